"""S3 component (primary region): the private origin bucket, its KMS key and the access-logs bucket."""

from __future__ import annotations

from awacs import cloudfront as cloudfront_actions
from awacs import kms as kms_actions
from awacs import s3 as s3_actions
from awacs import sts as sts_actions
from awacs.aws import Allow, Condition, Deny, PolicyDocument, Principal, Statement
from awacs.aws import Bool, StringEquals
from troposphere import AccountId, Equals, GetAtt, If, Ref, Sub, Template
from troposphere import iam, kms, s3

from templates.common import (
    add_kms_key,
    add_output,
    add_parameter,
    new_template,
    origin_bucket_name,
    regional_name,
    retain,
    skip_checkov,
    tags,
)
from templates.config import EnvConfig

DISTRIBUTION_ARN_PATTERN = r"^arn:aws[a-z-]*:cloudfront::[0-9]{12}:distribution/[A-Z0-9]+$"

ACCESS_LOGS_PREFIX = "s3-access-logs/"

# Keys under this prefix hold `deploy.py site`'s own state (release manifests, its lock), beside the
# objects they describe; the origin bucket policy denies them to CloudFront, so no viewer can fetch them.
SITE_STATE_PREFIX = ".edgecdn/"

ACCOUNT_ID_OR_EMPTY_PATTERN = r"^$|^[0-9]{12}$"


def build(env: EnvConfig) -> Template:
    """The origin bucket (readable only by this environment's distribution) and its logs bucket."""
    t = new_template(env, "s3", "origin bucket and access-logs bucket")
    distribution_arn = add_parameter(
        t,
        "DistributionArn",
        "ARN of the CloudFront distribution allowed to read the origin bucket "
        "(arn:aws:cloudfront::<account>:distribution/<id>).",
        AllowedPattern=DISTRIBUTION_ARN_PATTERN,
        ConstraintDescription="must be a CloudFront distribution ARN",
    )
    publisher_account = add_parameter(
        t,
        "SitePublisherAccount",
        "Account whose principals may assume the site publisher role (deploy.py sets the account it "
        "deploys from); empty: this stack's own account.",
        Default="",
        AllowedPattern=ACCOUNT_ID_OR_EMPTY_PATTERN,
        ConstraintDescription="must be empty or a 12-digit account id",
    )
    logs_bucket = add_logs_bucket_resources(t, env, "logs", server_access_logs=True)
    key = _add_origin_key(t, env, distribution_arn)
    origin = _add_origin_bucket(t, env, key, logs_bucket)
    _add_origin_bucket_policy(t, origin, distribution_arn)
    _add_site_publisher_role(t, env, origin, key, distribution_arn, publisher_account)
    return t


def add_logs_bucket_resources(t: Template, env: EnvConfig, purpose: str, server_access_logs: bool) -> s3.Bucket:
    """An access-logs bucket: SSE-S3, ACLs enabled for CloudFront, TLS-only, expiring objects.

    Shared with the cloudfront builder, whose standard logging needs a bucket in us-east-1 that
    exists before the distribution does. With `server_access_logs`, S3 server access logs of this
    account's buckets may be delivered under s3-access-logs/.
    """
    bucket = t.add_resource(
        retain(
            s3.Bucket(
                "LogsBucket",
                BucketName=regional_name(env, purpose),
                # CloudFront standard logging writes through an ACL grant to its awslogsdelivery
                # account, so ACLs must stay enabled (BucketOwnerEnforced would reject it).
                OwnershipControls=s3.OwnershipControls(
                    Rules=[s3.OwnershipControlsRule(ObjectOwnership="BucketOwnerPreferred")]
                ),
                # SSE-S3: neither S3 server access logging nor CloudFront standard logging can
                # deliver to a bucket whose default encryption is SSE-KMS.
                BucketEncryption=s3.BucketEncryption(
                    ServerSideEncryptionConfiguration=[
                        s3.ServerSideEncryptionRule(
                            ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(
                                SSEAlgorithm="AES256"
                            )
                        )
                    ]
                ),
                PublicAccessBlockConfiguration=_block_public_access(),
                VersioningConfiguration=s3.VersioningConfiguration(Status="Enabled"),
                LifecycleConfiguration=s3.LifecycleConfiguration(
                    Rules=[
                        s3.LifecycleRule(
                            Id="ExpireLogs",
                            Status="Enabled",
                            ExpirationInDays=env.access_log_retention_days,
                            NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(NoncurrentDays=1),
                            AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(
                                DaysAfterInitiation=7
                            ),
                        )
                    ]
                ),
                Tags=tags(env),
            )
        )
    )
    skip_checkov(
        bucket,
        CKV_AWS_18="This is the access-logs bucket: logging its own access into itself would loop.",
    )
    statements = [_deny_insecure_transport(bucket)]
    if server_access_logs:
        # S3 server access logging delivers with the logging service principal (the recommended
        # replacement for the log-delivery ACL), only for this account's buckets.
        statements.append(
            Statement(
                Sid="AllowS3ServerAccessLogs",
                Effect=Allow,
                Principal=Principal("Service", "logging.s3.amazonaws.com"),
                Action=[s3_actions.PutObject],
                Resource=[Sub("${Arn}/" + ACCESS_LOGS_PREFIX + "*", Arn=GetAtt(bucket, "Arn"))],
                Condition=Condition(StringEquals({"aws:SourceAccount": AccountId})),
            )
        )
    t.add_resource(
        s3.BucketPolicy(
            "LogsBucketPolicy",
            Bucket=Ref(bucket),
            PolicyDocument=PolicyDocument(Version="2012-10-17", Statement=statements),
        )
    )
    add_output(t, "LogsBucketName", Ref(bucket), "Bucket that receives the access logs.")
    return bucket


def _add_origin_key(t: Template, env: EnvConfig, distribution_arn) -> kms.Key:
    """Customer-managed key for the origin bucket; CloudFront may decrypt for this distribution only."""
    cloudfront_access = Statement(
        Sid="AllowCloudFrontToDecryptForThisDistribution",
        Effect=Allow,
        Principal=Principal("Service", "cloudfront.amazonaws.com"),
        Action=[kms_actions.Decrypt],
        Resource=["*"],  # in a key policy, "*" means this key
        Condition=Condition(StringEquals({"AWS:SourceArn": Ref(distribution_arn)})),
    )
    key = add_kms_key(t, env, "OriginBucketKey", "the objects of the origin bucket", cloudfront_access)
    t.add_resource(
        kms.Alias("OriginBucketKeyAlias", AliasName=f"alias/{env.name_prefix}-origin", TargetKeyId=Ref(key))
    )
    return key


def _add_origin_bucket(t: Template, env: EnvConfig, key: kms.Key, logs_bucket: s3.Bucket) -> s3.Bucket:
    # Server access logging is delivered under the logs bucket's policy: create that first.
    logs_policy = t.resources["LogsBucketPolicy"]
    bucket = t.add_resource(
        retain(
            s3.Bucket(
                "OriginBucket",
                BucketName=origin_bucket_name(env),
                OwnershipControls=s3.OwnershipControls(
                    Rules=[s3.OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]
                ),
                BucketEncryption=s3.BucketEncryption(
                    ServerSideEncryptionConfiguration=[
                        s3.ServerSideEncryptionRule(
                            ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(
                                SSEAlgorithm="aws:kms", KMSMasterKeyID=GetAtt(key, "Arn")
                            ),
                            # One data key per bucket instead of one KMS call per object.
                            BucketKeyEnabled=True,
                        )
                    ]
                ),
                PublicAccessBlockConfiguration=_block_public_access(),
                VersioningConfiguration=s3.VersioningConfiguration(Status="Enabled"),
                LoggingConfiguration=s3.LoggingConfiguration(
                    DestinationBucketName=Ref(logs_bucket), LogFilePrefix=ACCESS_LOGS_PREFIX + "origin/"
                ),
                LifecycleConfiguration=s3.LifecycleConfiguration(
                    Rules=[
                        s3.LifecycleRule(
                            Id="ExpireOldVersions",
                            Status="Enabled",
                            NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(
                                NoncurrentDays=env.noncurrent_version_retention_days
                            ),
                            AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(
                                DaysAfterInitiation=7
                            ),
                        )
                    ]
                ),
                # Request metrics, so the monitoring stack can alarm on the bucket's 4xx/5xx.
                MetricsConfigurations=[s3.MetricsConfiguration(Id="EntireBucket")],
                Tags=tags(env),
                DependsOn=[logs_policy],
            )
        )
    )
    add_output(t, "OriginBucketName", Ref(bucket), "Private bucket holding the site's content.")
    add_output(t, "OriginBucketArn", GetAtt(bucket, "Arn"), "ARN of the origin bucket.")
    add_output(t, "OriginBucketKeyArn", GetAtt(key, "Arn"), "KMS key that encrypts the origin bucket.")
    return bucket


def _add_origin_bucket_policy(t: Template, bucket: s3.Bucket, distribution_arn) -> s3.BucketPolicy:
    """TLS only; CloudFront reads (and may list, for 404s) through Origin Access Control, for one distribution."""
    return t.add_resource(
        s3.BucketPolicy(
            "OriginBucketPolicy",
            Bucket=Ref(bucket),
            PolicyDocument=PolicyDocument(
                Version="2012-10-17",
                Statement=[
                    _deny_insecure_transport(bucket),
                    Statement(
                        Sid="AllowCloudFrontOriginAccessControl",
                        Effect=Allow,
                        Principal=Principal("Service", "cloudfront.amazonaws.com"),
                        Action=[s3_actions.GetObject],
                        Resource=[Sub("${Arn}/*", Arn=GetAtt(bucket, "Arn"))],
                        Condition=Condition(StringEquals({"AWS:SourceArn": Ref(distribution_arn)})),
                    ),
                    # Without ListBucket, S3 answers a missing key with 403 (it will not reveal what
                    # does not exist); with it, viewers get a true 404 for a missing file.
                    Statement(
                        Sid="AllowCloudFrontToTellMissingObjects",
                        Effect=Allow,
                        Principal=Principal("Service", "cloudfront.amazonaws.com"),
                        Action=[s3_actions.ListBucket],
                        Resource=[GetAtt(bucket, "Arn")],
                        Condition=Condition(StringEquals({"AWS:SourceArn": Ref(distribution_arn)})),
                    ),
                    _deny_cloudfront_site_state(bucket),
                ],
            ),
        )
    )


def _deny_cloudfront_site_state(bucket: s3.Bucket) -> Statement:
    """Release manifests live in this bucket: no distribution may read them for a viewer."""
    return Statement(
        Sid="DenyCloudFrontSitePublisherState",
        Effect=Deny,
        Principal=Principal("Service", "cloudfront.amazonaws.com"),
        Action=[s3_actions.GetObject],
        Resource=[Sub("${Arn}/" + SITE_STATE_PREFIX + "*", Arn=GetAtt(bucket, "Arn"))],
    )


def _deny_insecure_transport(bucket: s3.Bucket) -> Statement:
    return Statement(
        Sid="DenyInsecureTransport",
        Effect=Deny,
        Principal=Principal("*"),
        Action=[s3_actions.Action("*")],
        Resource=[GetAtt(bucket, "Arn"), Sub("${Arn}/*", Arn=GetAtt(bucket, "Arn"))],
        Condition=Condition(Bool({"aws:SecureTransport": "false"})),
    )


def _block_public_access() -> s3.PublicAccessBlockConfiguration:
    return s3.PublicAccessBlockConfiguration(
        BlockPublicAcls=True, BlockPublicPolicy=True, IgnorePublicAcls=True, RestrictPublicBuckets=True
    )


def site_publisher_role_name(env: EnvConfig) -> Sub:
    """`<project>-<env>-site-publisher-<region>`: at most 57 characters (IAM allows 64)."""
    return Sub(f"{env.name_prefix}-site-publisher-${{AWS::Region}}")


def _add_site_publisher_role(t: Template, env: EnvConfig, bucket: s3.Bucket, key: kms.Key, distribution_arn,
                             publisher_account) -> iam.Role:
    """The role `deploy.py site` uploads through: this bucket, its key, this distribution's invalidations.

    Not the StackSets execution role: publishing the site needs none of what deploying the stacks needs.
    """
    t.add_condition("SitePublisherTrustsOwnAccount", Equals(Ref(publisher_account), ""))
    trusted = If(
        "SitePublisherTrustsOwnAccount",
        Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root"),
        Sub("arn:${AWS::Partition}:iam::${Account}:root", Account=Ref(publisher_account)),
    )
    bucket_arn = GetAtt(bucket, "Arn")
    publish = PolicyDocument(
        Version="2012-10-17",
        Statement=[
            # ListObjectsV2: what the bucket holds, compared with the site directory.
            Statement(Sid="ListOriginBucket", Effect=Allow, Action=[s3_actions.ListBucket], Resource=[bucket_arn]),
            # Head/Get (metadata, release manifests), Put (uploads; CopyObject writes with it),
            # GetObjectVersion (rollback copies an old version), Delete (a delete marker: the
            # version stays until the lifecycle rule expires it). No DeleteObjectVersion.
            Statement(
                Sid="PublishSiteObjects",
                Effect=Allow,
                Action=[s3_actions.GetObject, s3_actions.GetObjectVersion, s3_actions.PutObject,
                        s3_actions.DeleteObject],
                Resource=[Sub("${Arn}/*", Arn=bucket_arn)],
            ),
            # SSE-KMS: an upload needs a data key, a copy or a read decrypts.
            Statement(
                Sid="UseOriginBucketKey",
                Effect=Allow,
                Action=[kms_actions.GenerateDataKey, kms_actions.Decrypt],
                Resource=[GetAtt(key, "Arn")],
            ),
            Statement(
                Sid="InvalidateThisDistribution",
                Effect=Allow,
                Action=[cloudfront_actions.CreateInvalidation, cloudfront_actions.GetInvalidation],
                Resource=[Ref(distribution_arn)],
            ),
        ],
    )
    role = t.add_resource(
        iam.Role(
            "SitePublisherRole",
            RoleName=site_publisher_role_name(env),
            Description=f"{env.name_prefix}: deploy.py site uploads the site to the origin bucket and "
                        "invalidates the distribution through this role",
            AssumeRolePolicyDocument=PolicyDocument(
                Version="2012-10-17",
                Statement=[
                    Statement(Effect=Allow, Principal=Principal("AWS", trusted), Action=[sts_actions.AssumeRole])
                ],
            ),
            MaxSessionDuration=3600,
            Policies=[iam.Policy(PolicyName="PublishSite", PolicyDocument=publish)],
            Tags=tags(env),
        )
    )
    add_output(t, "SitePublisherRoleArn", GetAtt(role, "Arn"),
               "Role that deploy.py site assumes to upload the site and invalidate the distribution.")
    return role

