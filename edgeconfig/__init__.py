"""Edge configuration management: the `deploy.py edge-config` command, its file model and its DynamoDB store."""
