"""`deploy.py site`: publish a site directory to every account's origin bucket, invalidate what changed, roll back."""
