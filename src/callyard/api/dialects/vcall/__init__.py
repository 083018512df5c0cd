"""The vcall dialect: the REST/JSON call-center API of seed 003 (`{code, msg, data}`)."""
