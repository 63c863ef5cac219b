"""Reading a finished results folder for people: the findings, the console views and the
Markdown/HTML report document."""
