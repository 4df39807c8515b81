"""SQLAlchemy 2 storage for PostgreSQL and SQLite behind one schema."""
