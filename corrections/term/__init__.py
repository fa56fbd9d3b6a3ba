"""The end of a case and the transfer of a term: the last use cases, above every domain
whose work they wind up."""
