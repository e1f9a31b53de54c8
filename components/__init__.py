"""One ComponentResource per concept of the platform; see README "Architecture"."""
