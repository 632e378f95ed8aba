"""hadir sync server: central ingest, enrolment feed and reports."""
