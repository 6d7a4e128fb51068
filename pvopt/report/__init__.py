"""Reports: HTML, Excel and PNG figures of a plan (the only matplotlib importer)."""
