"""CloudFront component (us-east-1): the distribution, its policies, certificate and logs bucket."""

from __future__ import annotations

from troposphere import GetAtt, If, NoValue, Ref, Sub, Template
from troposphere import certificatemanager as acm
from troposphere import cloudfront as cf

from templates.common import (
    SERVES_ALIASES,
    account_condition,
    add_account_conditions,
    add_output,
    add_parameter,
    assert_edge_region,
    is_any_account,
    new_template,
    of_account,
    per_account,
    skip_checkov,
    tags,
)
from templates.config import DomainConfig, EnvConfig
from templates.edge_functions import FUNCTIONS, EdgeFunction
from templates.lambda_edge import VERSION_ARN_PATTERN, version_output_name
from templates.s3 import add_logs_bucket_resources

ORIGIN_ID = "s3-origin"

# Content-hashed build output (app.3f9a1c.js): cached for a year at the edge and in browsers.
ASSET_PATH_PATTERN = "/assets/*"

ONE_YEAR = 31_536_000
ONE_DAY = 86_400

WEB_ACL_ARN_PATTERN = r"^arn:aws[a-z-]*:wafv2:us-east-1:[0-9]{12}:global/webacl/[A-Za-z0-9_-]+/[a-f0-9-]+$"
BUCKET_DOMAIN_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\.s3\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$"


def build(env: EnvConfig) -> Template:
    """Distribution with OAC, minimal cache keys, security headers, edge functions, TLS and logging."""
    t = new_template(env, "cloudfront", "CloudFront distribution")
    assert_edge_region(t, "cloudfront")
    web_acl_arn = add_parameter(
        t, "WebAclArn", "ARN of the CLOUDFRONT-scope WAFv2 web ACL (from the waf stack).",
        AllowedPattern=WEB_ACL_ARN_PATTERN, ConstraintDescription="must be a global (CLOUDFRONT) web ACL ARN",
    )
    origin_domain = add_parameter(
        t, "OriginDomainName",
        "Regional domain name of the origin bucket, <bucket>.s3.<region>.amazonaws.com.",
        AllowedPattern=BUCKET_DOMAIN_PATTERN, ConstraintDescription="must be an S3 regional bucket domain name",
    )
    version_arns = {
        spec.key: add_parameter(
            t, version_output_name(spec),
            f"Numbered version ARN of the {spec.event_type} edge function (never $LATEST or an alias).",
            AllowedPattern=VERSION_ARN_PATTERN,
            ConstraintDescription="must be a numbered Lambda version ARN in us-east-1",
        )
        for spec in FUNCTIONS
    }
    logs_bucket = add_logs_bucket_resources(t, env, "cdnlogs", server_access_logs=False)
    oac = _add_origin_access_control(t, env)
    pages_policy, assets_policy = _add_cache_policies(t, env)
    origin_request_policy = _add_origin_request_policy(t, env)
    headers_policy = _add_response_headers_policy(t, env)
    # Each account serves its own aliases with its own certificate: an alternate domain name
    # belongs to one distribution in all of AWS, and a hosted zone to one account.
    serving = [(account, domain) for account, domain in env.account_domains if domain.aliases]
    every_account_serves = len(serving) == len(env.deploy.accounts)
    add_account_conditions(t, [account for account, _ in serving])
    if serving:
        t.add_condition(SERVES_ALIASES, is_any_account([account for account, _ in serving]))
    certificates = [(account, _add_certificate(t, env, account, domain)) for account, domain in serving]

    associations = [_association(spec, version_arns[spec.key]) for spec in FUNCTIONS]
    behavior = dict(
        TargetOriginId=ORIGIN_ID,
        ViewerProtocolPolicy="redirect-to-https",
        AllowedMethods=["GET", "HEAD", "OPTIONS"],
        CachedMethods=["GET", "HEAD"],
        Compress=True,
        OriginRequestPolicyId=Ref(origin_request_policy),
        ResponseHeadersPolicyId=Ref(headers_policy),
        LambdaFunctionAssociations=associations,
    )
    config = cf.DistributionConfig(
        Comment=f"{env.name_prefix} site",
        Enabled=True,
        HttpVersion="http2and3",
        IPV6Enabled=True,
        PriceClass=env.price_class.value,
        DefaultRootObject=env.default_root_object,
        Origins=[
            cf.Origin(
                Id=ORIGIN_ID,
                DomainName=Ref(origin_domain),
                # OAC signs the requests; the legacy origin access identity stays empty.
                S3OriginConfig=cf.S3OriginConfig(OriginAccessIdentity=""),
                OriginAccessControlId=GetAtt(oac, "Id"),
            )
        ],
        DefaultCacheBehavior=cf.DefaultCacheBehavior(CachePolicyId=Ref(pages_policy), **behavior),
        CacheBehaviors=[
            cf.CacheBehavior(PathPattern=ASSET_PATH_PATTERN, CachePolicyId=Ref(assets_policy), **behavior)
        ],
        Logging=cf.Logging(Bucket=GetAtt(logs_bucket, "DomainName"), Prefix="cloudfront/", IncludeCookies=False),
        WebACLId=Ref(web_acl_arn),
        ViewerCertificate=_viewer_certificate(certificates, every_account_serves),
    )
    if serving:
        config.Aliases = per_account([(account, list(domain.aliases)) for account, domain in serving], NoValue)
    distribution = t.add_resource(cf.Distribution("Distribution", DistributionConfig=config, Tags=tags(env)))
    if not every_account_serves:
        skip_checkov(
            distribution,
            CKV_AWS_174="An account without a custom domain uses the *.cloudfront.net default "
                        "certificate, whose viewer TLS policy CloudFront fixes; accounts with a domain "
                        "get TLSv1.2_2021.",
        )

    # Additional metrics (OriginLatency, error rates by status code) for the monitoring alarms.
    t.add_resource(
        cf.MonitoringSubscription(
            "DistributionMetrics",
            DistributionId=Ref(distribution),
            MonitoringSubscription=cf.MonitoringSubscriptionProperty(
                RealtimeMetricsSubscriptionConfig=cf.RealtimeMetricsSubscriptionConfig(
                    RealtimeMetricsSubscriptionStatus="Enabled"
                )
            ),
        )
    )
    add_output(t, "DistributionId", Ref(distribution), "Id of the CloudFront distribution.")
    add_output(
        t, "DistributionArn",
        Sub("arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${Distribution}"),
        "ARN of the distribution: the primary region's origin bucket policy allows only it.",
    )
    add_output(t, "DistributionDomainName", GetAtt(distribution, "DomainName"),
               "The distribution's *.cloudfront.net domain name (alias target).")
    if serving:
        add_output(t, "CertificateArn",
                   of_account([(account, Ref(certificate)) for account, certificate in certificates]),
                   "ACM certificate of this account's aliases.", condition=SERVES_ALIASES)
    return t


def _association(spec: EdgeFunction, version_arn) -> cf.LambdaFunctionAssociation:
    association = cf.LambdaFunctionAssociation(EventType=spec.event_type, LambdaFunctionARN=Ref(version_arn))
    if spec.include_body:
        association.IncludeBody = True
    return association


def _add_origin_access_control(t: Template, env: EnvConfig) -> cf.OriginAccessControl:
    return t.add_resource(
        cf.OriginAccessControl(
            "OriginAccessControl",
            OriginAccessControlConfig=cf.OriginAccessControlConfig(
                Name=f"{env.name_prefix}-origin",
                Description=f"{env.name_prefix}: CloudFront signs every request to the origin bucket",
                OriginAccessControlOriginType="s3",
                SigningBehavior="always",
                SigningProtocol="sigv4",
            ),
        )
    )


def _add_cache_policies(t: Template, env: EnvConfig) -> tuple[cf.CachePolicy, cf.CachePolicy]:
    pages = _add_cache_policy(t, env, "Pages", "Pages: honour the origin's Cache-Control, short default",
                              min_ttl=0, default_ttl=300, max_ttl=ONE_DAY)
    assets = _add_cache_policy(t, env, "Assets", "Content-hashed assets: immutable, cached for a year",
                               min_ttl=ONE_DAY, default_ttl=ONE_YEAR, max_ttl=ONE_YEAR)
    return pages, assets


def _add_cache_policy(t: Template, env: EnvConfig, kind: str, comment: str, min_ttl: int, default_ttl: int,
                      max_ttl: int) -> cf.CachePolicy:
    """A cache policy whose key holds no cookies, headers or query strings; gzip and brotli variants only."""
    return t.add_resource(
        cf.CachePolicy(
            f"{kind}CachePolicy",
            CachePolicyConfig=cf.CachePolicyConfig(
                Name=f"{env.name_prefix}-{kind.lower()}",
                Comment=comment,
                MinTTL=min_ttl,
                DefaultTTL=default_ttl,
                MaxTTL=max_ttl,
                ParametersInCacheKeyAndForwardedToOrigin=cf.ParametersInCacheKeyAndForwardedToOrigin(
                    CookiesConfig=cf.CacheCookiesConfig(CookieBehavior="none"),
                    HeadersConfig=cf.CacheHeadersConfig(HeaderBehavior="none"),
                    QueryStringsConfig=cf.CacheQueryStringsConfig(QueryStringBehavior="none"),
                    EnableAcceptEncodingGzip=True,
                    EnableAcceptEncodingBrotli=True,
                ),
            ),
        )
    )


def _add_origin_request_policy(t: Template, env: EnvConfig) -> cf.OriginRequestPolicy:
    """S3 needs nothing from the viewer: no cookies, headers or query strings reach the origin."""
    return t.add_resource(
        cf.OriginRequestPolicy(
            "OriginRequestPolicy",
            OriginRequestPolicyConfig=cf.OriginRequestPolicyConfig(
                Name=f"{env.name_prefix}-s3-origin",
                Comment="Forward nothing from the viewer to the S3 origin",
                CookiesConfig=cf.OriginRequestCookiesConfig(CookieBehavior="none"),
                HeadersConfig=cf.OriginRequestHeadersConfig(HeaderBehavior="none"),
                QueryStringsConfig=cf.OriginRequestQueryStringsConfig(QueryStringBehavior="none"),
            ),
        )
    )


def _add_response_headers_policy(t: Template, env: EnvConfig) -> cf.ResponseHeadersPolicy:
    return t.add_resource(
        cf.ResponseHeadersPolicy(
            "SecurityHeadersPolicy",
            ResponseHeadersPolicyConfig=cf.ResponseHeadersPolicyConfig(
                Name=f"{env.name_prefix}-security-headers",
                Comment="HSTS, nosniff, frame denial, referrer policy and the site's CSP",
                SecurityHeadersConfig=cf.SecurityHeadersConfig(
                    StrictTransportSecurity=cf.StrictTransportSecurity(
                        AccessControlMaxAgeSec=2 * ONE_YEAR, IncludeSubdomains=True, Preload=True, Override=True
                    ),
                    ContentTypeOptions=cf.ContentTypeOptions(Override=True),
                    FrameOptions=cf.FrameOptions(FrameOption="DENY", Override=True),
                    ReferrerPolicy=cf.ReferrerPolicy(ReferrerPolicy="strict-origin-when-cross-origin", Override=True),
                    ContentSecurityPolicy=cf.ContentSecurityPolicy(
                        ContentSecurityPolicy=env.content_security_policy, Override=True
                    ),
                ),
            ),
        )
    )


def _add_certificate(t: Template, env: EnvConfig, account: str, domain: DomainConfig) -> acm.Certificate:
    """The account's certificate, DNS-validated in its existing, delegated zone.

    CloudFormation writes the validation records itself, in the zone each name's
    DomainValidationOptions entry gives; that zone must be in the account creating the certificate.
    """
    first, *others = domain.aliases
    certificate = acm.Certificate(
        f"Certificate{account}",
        Condition=account_condition(account),
        DomainName=first,
        ValidationMethod="DNS",
        DomainValidationOptions=[
            acm.DomainValidationOption(DomainName=name, HostedZoneId=domain.hosted_zone_id)
            for name in domain.aliases
        ],
        Tags=tags(env),
    )
    if others:
        certificate.SubjectAlternativeNames = others
    return t.add_resource(certificate)


def _viewer_certificate(certificates: list[tuple[str, acm.Certificate]], every_account_serves: bool
                        ) -> cf.ViewerCertificate:
    """The account's certificate with TLSv1.2_2021, or CloudFront's default one where it has no domain."""
    if not certificates:
        return cf.ViewerCertificate(CloudFrontDefaultCertificate=True)
    return cf.ViewerCertificate(
        CloudFrontDefaultCertificate=If(SERVES_ALIASES, NoValue, True),
        AcmCertificateArn=per_account([(account, Ref(certificate)) for account, certificate in certificates],
                                      NoValue),
        SslSupportMethod=If(SERVES_ALIASES, "sni-only", NoValue),
        # The default certificate's policy is fixed by CloudFront; where every account has its own
        # certificate the policy is stated plainly, for readers and checkov alike.
        MinimumProtocolVersion="TLSv1.2_2021" if every_account_serves
        else If(SERVES_ALIASES, "TLSv1.2_2021", NoValue),
    )
