"""The complaints register (投诉登记): complaints about community corrections received by a
district, and their answers; counted by the public statistics (corrections/public)."""
