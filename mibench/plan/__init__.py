"""Planning: suite files (schema, discovery, CLI overrides, grid expansion), the resolution of
names to estimator/task/critic objects, the cost model and the pre-flight checks. Nothing here
trains: a plan is a list of frozen, hashed cell configs."""
