"""DynamoDB component (primary region): the versioned edge-configuration table, optionally global."""

from __future__ import annotations

from troposphere import GetAtt, Ref, Template
from troposphere import dynamodb

from templates.common import add_output, new_template, retain, tags
from templates.config import EnvConfig

# The key schema is the handler's: one partition per configuration, one item per version, so history
# and rollback never need the table replaced (docs/edge-config.md describes the items).
from templates.edge_functions.edge_handler import PARTITION_KEY, SORT_KEY


def build(env: EnvConfig) -> Template:
    """The edge-config table: on-demand, PITR, KMS, deletion protection, a replica per configured region."""
    t = new_template(env, "dynamodb", "edge-configuration table")
    table = _add_edge_config_table(t, env)
    add_output(t, "EdgeConfigTableName", Ref(table), "Table holding the versioned edge configuration.")
    add_output(t, "EdgeConfigTableArn", GetAtt(table, "Arn"), "ARN of the table in the primary region.")
    return t


def _add_edge_config_table(t: Template, env: EnvConfig) -> dynamodb.GlobalTable:
    # A global table even without replicas: turning a plain table into a global one later needs
    # a replacement (or an import), while a global table gains replicas by a stack update.
    replicas = [
        dynamodb.ReplicaSpecification(
            Region=region,
            PointInTimeRecoverySpecification=dynamodb.PointInTimeRecoverySpecification(
                PointInTimeRecoveryEnabled=True
            ),
            DeletionProtectionEnabled=True,
            Tags=tags(env),
        )
        for region in env.table_regions
    ]
    return t.add_resource(
        retain(
            dynamodb.GlobalTable(
                "EdgeConfigTable",
                TableName=env.edge_config_table_name,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[
                    dynamodb.AttributeDefinition(AttributeName=PARTITION_KEY, AttributeType="S"),
                    dynamodb.AttributeDefinition(AttributeName=SORT_KEY, AttributeType="N"),
                ],
                KeySchema=[
                    dynamodb.KeySchema(AttributeName=PARTITION_KEY, KeyType="HASH"),
                    dynamodb.KeySchema(AttributeName=SORT_KEY, KeyType="RANGE"),
                ],
                # Streams carry replication between regions; required as soon as there is a replica.
                StreamSpecification=dynamodb.StreamSpecification(StreamViewType="NEW_AND_OLD_IMAGES"),
                SSESpecification=dynamodb.GlobalTableSSESpecification(SSEEnabled=True, SSEType="KMS"),
                Replicas=replicas,
            )
        )
    )
