"""`python -m bench`: each figure of the project measured against its floor in the same run."""
