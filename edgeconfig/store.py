"""The edge configuration table: the current item plus append-only history, written in one conditional transaction."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from botocore.exceptions import ClientError

from edgeconfig.model import EdgeConfig, StoredVersion
from templates.edge_functions import edge_handler as schema


class StoreError(Exception):
    """A table operation failed."""


class TableMissingError(StoreError):
    """The table does not exist where we looked."""


class ConflictError(StoreError):
    """Another push changed the current version between our read and our write."""

    def __init__(self, expected: int | None, found: int | None):
        self.expected = expected
        self.found = found
        expected_text = "no version" if expected is None else f"version {expected}"
        found_text = "unknown" if found is None else f"version {found}"
        super().__init__(
            f"conflict: expected the deployed configuration to be at {expected_text}, but it is now at "
            f"{found_text} (someone else pushed). Nothing was written. Run `edge-config diff` and push again."
        )


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class EdgeConfigStore:
    """Versions of one environment's configuration in the edge-config table (partition `config_id`)."""

    def __init__(self, client: Any, table_name: str, config_id: str):
        self.client = client
        self.table_name = table_name
        self.config_id = config_id

    def _key(self, version: int) -> dict:
        return {schema.PARTITION_KEY: {"S": self.config_id}, schema.SORT_KEY: {"N": str(version)}}

    def _call(self, operation: str, **kwargs: Any) -> dict:
        try:
            return getattr(self.client, operation)(TableName=self.table_name, **kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                raise TableMissingError(
                    f"table {self.table_name} not found in {self.client.meta.region_name}: deploy the dynamodb "
                    "stack first, or check --region / --endpoint-url"
                ) from exc
            raise

    def current(self) -> StoredVersion | None:
        """The deployed version (strongly consistent read of the current item), or None if none was pushed."""
        item = self._call("get_item", Key=self._key(schema.CURRENT_ITEM_VERSION), ConsistentRead=True).get("Item")
        return StoredVersion.from_item(item) if item else None

    def version(self, number: int) -> StoredVersion | None:
        """A version from the history, or None."""
        item = self._call("get_item", Key=self._key(number), ConsistentRead=True).get("Item")
        return StoredVersion.from_item(item) if item else None

    def before(self, number: int) -> StoredVersion | None:
        """The newest version older than `number`, or None (numbers can skip: see `write`)."""
        page = self._call(
            "query",
            KeyConditionExpression="#id = :id AND #v BETWEEN :first AND :last",
            ExpressionAttributeNames={"#id": schema.PARTITION_KEY, "#v": schema.SORT_KEY},
            ExpressionAttributeValues={":id": {"S": self.config_id}, ":first": {"N": "1"},
                                       ":last": {"N": str(number - 1)}},
            ScanIndexForward=False, Limit=1, ConsistentRead=True,
        )
        items = page.get("Items", [])
        return StoredVersion.from_item(items[0]) if items else None

    def history(self) -> list[StoredVersion]:
        """Every pushed version, newest first."""
        versions: list[StoredVersion] = []
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "#id = :id AND #v >= :first",
            "ExpressionAttributeNames": {"#id": schema.PARTITION_KEY, "#v": schema.SORT_KEY},
            "ExpressionAttributeValues": {":id": {"S": self.config_id}, ":first": {"N": "1"}},
            "ScanIndexForward": False,
            "ConsistentRead": True,
        }
        while True:
            page = self._call("query", **kwargs)
            versions.extend(StoredVersion.from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return versions
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def write(self, config: EdgeConfig, expected_version: int | None, pushed_by: str, message: str = "",
              action: str = "push", restored_from: int | None = None,
              version: int | None = None) -> StoredVersion:
        """Write `config` as `version` (default: the next one), only if the deployed version is still `expected_version`.

        The current item and the new history item go in one transaction: both are written or neither.
        A `version` above the next one leaves a gap in this table's history: the accounts of an
        environment share version numbers, and an account that missed a push skips its number.
        """
        number = version if version is not None else (expected_version or 0) + 1
        if number <= (expected_version or 0):
            raise ValueError(f"version {number} must be above the deployed version {expected_version}")
        stored = StoredVersion(
            version=number,
            schema_version=schema.SCHEMA_VERSION,
            content=config.content,
            content_hash=config.content_hash,
            pushed_at=_now(),
            pushed_by=pushed_by,
            action=action,
            message=message,
            restored_from=restored_from,
        )
        if expected_version is None:
            current_condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(#id)",
                                                 "ExpressionAttributeNames": {"#id": schema.PARTITION_KEY}}
        else:
            current_condition = {"ConditionExpression": "config_version = :expected",
                                 "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}}}
        try:
            self.client.transact_write_items(TransactItems=[
                {"Put": {"TableName": self.table_name,
                         "Item": stored.to_item(self.config_id, schema.CURRENT_ITEM_VERSION),
                         **current_condition}},
                {"Put": {"TableName": self.table_name,
                         "Item": stored.to_item(self.config_id, stored.version),
                         "ConditionExpression": "attribute_not_exists(#id)",
                         "ExpressionAttributeNames": {"#id": schema.PARTITION_KEY}}},
            ])
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "ResourceNotFoundException":
                raise TableMissingError(
                    f"table {self.table_name} not found in {self.client.meta.region_name}: deploy the dynamodb "
                    "stack first, or check --region / --endpoint-url"
                ) from exc
            if code in ("TransactionCanceledException", "TransactionConflictException"):
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                if code == "TransactionConflictException" or not reasons or any(
                        r in ("ConditionalCheckFailed", "TransactionConflict") for r in reasons):
                    found = self.current()
                    raise ConflictError(expected_version, found.version if found else None) from exc
            raise
        return stored
