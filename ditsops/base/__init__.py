"""The bottom layer: what every other layer may use and what uses nothing above it.

errors (the exception tree and exit codes), secrets (redaction), durations and units
(reading and writing amounts), origins (credentials stay with their origin), sqlguard and
sqltokens (the lexical check of diagnostic SQL), paths (where ditsops keeps its files).
Clients enforce origins and the SQL guard at their boundary, which is why they are here
and not in core. tests/test_layers.py checks that nothing here imports anything above.
"""
