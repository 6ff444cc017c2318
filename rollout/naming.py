"""Names of everything the rollout creates or reads: stack set, roles, template buckets, regions."""

from __future__ import annotations

from templates.config import EDGE_REGION, EnvConfig

# The role names the CloudFormation console proposes for self-managed stack sets: keeping them
# means a stack set created from the console and one created by deploy.py use the same roles.
ADMINISTRATION_ROLE_NAME = "AWSCloudFormationStackSetAdministrationRole"
EXECUTION_ROLE_NAME = "AWSCloudFormationStackSetExecutionRole"

# The role AWS Organizations creates in every member account it creates; bootstrap assumes it
# to create the execution role there (override with --bootstrap-role).
DEFAULT_BOOTSTRAP_ROLE_NAME = "OrganizationAccountAccessRole"

# Stack sets are regional objects of the administration account. Keeping them in the fixed edge
# region means changing an environment's primary region never orphans its stack set.
STACK_SET_REGION = EDGE_REGION

ROOT_TEMPLATE = "root.json"

# Root template parameters the rollout sets (the contract with templates/ builders).
PARAM_TEMPLATES_BUCKET = "TemplatesBucket"
PARAM_TEMPLATES_PREFIX = "TemplatesPrefix"
PARAM_DISTRIBUTION_ARN = "DistributionArn"
PARAM_REGIONAL_TEMPLATES_BUCKET_PREFIX = "RegionalTemplatesBucketPrefix"
PARAM_SITE_PUBLISHER_ACCOUNT = "SitePublisherAccount"

# DeletionPolicy values that keep a resource when its stack is deleted (RetainExceptOnCreate also
# deletes it when the create that made it rolls back).
RETAINING_POLICIES = frozenset({"Retain", "RetainExceptOnCreate"})

# Root template outputs the rollout reads.
OUTPUT_DISTRIBUTION_ARN = "DistributionArn"
OUTPUT_DISTRIBUTION_ID = "DistributionId"
OUTPUT_ORIGIN_BUCKET_NAME = "OriginBucketName"
OUTPUT_SITE_PUBLISHER_ROLE_ARN = "SitePublisherRoleArn"

def stack_set_name(env: EnvConfig) -> str:
    """`<project>-<env>`, e.g. edgecdn-prod."""
    return env.name_prefix


def template_bucket_name(project: str, account: str, region: str) -> str:
    """The template bucket of one region of the administration account (like cdk's assets bucket).

    Bucket names are global: the account and region make it unique, the project keeps forks apart.
    """
    return f"{template_bucket_prefix(project, account)}{region}"


def template_bucket_prefix(project: str, account: str) -> str:
    """What every region's template bucket name starts with: the root's RegionalTemplatesBucketPrefix."""
    return f"{project}-stacksets-{account}-"


def administration_role_arn(account: str) -> str:
    return f"arn:aws:iam::{account}:role/{ADMINISTRATION_ROLE_NAME}"


def execution_role_arn(account: str) -> str:
    return f"arn:aws:iam::{account}:role/{EXECUTION_ROLE_NAME}"


def template_url(bucket: str, region: str, key: str) -> str:
    """The https S3 URL CloudFormation accepts as TemplateURL (regional virtual-hosted style)."""
    return f"https://{bucket}.s3.{region}.amazonaws.com/{key}"
