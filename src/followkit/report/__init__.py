"""The run report's pieces (`followkit report`, written by followkit.runreport): views (the run as
read from its files), tables (built once as plain data), markdown and html (formatting only), plots."""
