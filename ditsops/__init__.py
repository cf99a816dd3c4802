"""ditsops: the incident-response command line for Dits on-call engineers."""

__version__ = "0.1.0"
