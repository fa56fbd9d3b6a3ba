"""Organisation: city > district > judicial office units, users, roles, sign-in."""
