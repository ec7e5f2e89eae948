"""The transfer engine: S3/local/GCS with rsync semantics, verified and resumable."""
