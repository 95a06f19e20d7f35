"""followkit's tests, one folder per subpackage of src/followkit; app/ holds the root modules (cli, models, pipeline)."""
