"""The run report (`followkit report`): write (the files, and which reports may be replaced), views
(the run as read from its files), tables (built once as plain data), markdown and html (formatting
only), plots."""
