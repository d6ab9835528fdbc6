"""SQLite storage: one database file in WAL mode, ordered migrations, one repository per port."""
