"""Route53 component (us-east-1): per account, a new hosted zone, or alias records in its existing delegated one."""

from __future__ import annotations

from troposphere import GetAtt, Join, Ref, Template
from troposphere import route53

from templates.common import (
    CREATES_ZONE,
    SERVES_ALIASES,
    account_condition,
    add_account_conditions,
    add_output,
    add_parameter,
    is_any_account,
    new_template,
    of_account,
    retain,
    tags,
)
from templates.config import DomainConfig, EnvConfig

# The fixed hosted zone id of every CloudFront distribution, for alias records.
CLOUDFRONT_HOSTED_ZONE_ID = "Z2FDTNDATAQYW2"

DISTRIBUTION_DOMAIN_PATTERN = r"^[a-z0-9]+\.cloudfront\.net$"


def build(env: EnvConfig) -> Template:
    """Each account's DNS: a new zone (first step: delegate it, then configure its id) or A/AAAA aliases.

    A hosted zone lives in one account, so each account's records go to its own zone, chosen by
    the IsAccount<id> conditions of the one template every account runs.
    """
    if not env.account_domains:
        raise ValueError(f"{env.source}: the route53 component needs an account with a domain")
    t = new_template(env, "route53", "DNS of each account's domain")
    add_account_conditions(t, [account for account, _ in env.account_domains])
    new_zones = [(account, domain) for account, domain in env.account_domains if domain.creates_zone]
    serving = [(account, domain) for account, domain in env.account_domains if domain.aliases]
    if new_zones:
        t.add_condition(CREATES_ZONE, is_any_account([account for account, _ in new_zones]))
        zones = [(account, _add_hosted_zone(t, env, account, domain)) for account, domain in new_zones]
        add_output(t, "HostedZoneId", of_account([(a, Ref(zone)) for a, zone in zones]),
                   "Id of the new zone: set it as hosted_zone_id once delegated.", condition=CREATES_ZONE)
        add_output(t, "NameServers",
                   of_account([(a, Join(",", GetAtt(zone, "NameServers"))) for a, zone in zones]),
                   "Name servers to delegate the zone to from its parent domain.", condition=CREATES_ZONE)
    if serving:
        t.add_condition(SERVES_ALIASES, is_any_account([account for account, _ in serving]))
        distribution_domain = add_parameter(
            t, "DistributionDomainName", "The distribution's *.cloudfront.net domain name (alias target).",
            AllowedPattern=DISTRIBUTION_DOMAIN_PATTERN, ConstraintDescription="must be a cloudfront.net name",
        )
        for account, domain in serving:
            _add_alias_records(t, env, account, domain, distribution_domain)
        add_output(t, "SiteUrl", of_account([(a, f"https://{d.aliases[0]}/") for a, d in serving]),
                   "The site's address.", condition=SERVES_ALIASES)
    return t


def _add_hosted_zone(t: Template, env: EnvConfig, account: str, domain: DomainConfig) -> route53.HostedZone:
    """A new zone. ACM cannot validate in it until the parent domain delegates to its name servers."""
    return t.add_resource(
        retain(
            route53.HostedZone(
                f"HostedZone{account}",
                Condition=account_condition(account),
                Name=domain.zone_name,
                HostedZoneConfig=route53.HostedZoneConfiguration(
                    Comment=f"{env.name_prefix}: delegate to these name servers, then set hosted_zone_id"
                ),
                HostedZoneTags=tags(env),
            )
        )
    )


def _add_alias_records(t: Template, env: EnvConfig, account: str, domain: DomainConfig,
                       distribution_domain) -> route53.RecordSetGroup:
    records = [
        route53.RecordSet(
            Name=f"{name}.",
            Type=record_type,
            AliasTarget=route53.AliasTarget(
                HostedZoneId=CLOUDFRONT_HOSTED_ZONE_ID, DNSName=Ref(distribution_domain), EvaluateTargetHealth=False
            ),
        )
        for name in domain.aliases
        for record_type in ("A", "AAAA")  # the distribution serves IPv6 too
    ]
    return t.add_resource(
        route53.RecordSetGroup(
            f"AliasRecords{account}",
            Condition=account_condition(account),
            HostedZoneId=domain.hosted_zone_id,
            Comment=f"{env.name_prefix}: aliases to the CloudFront distribution",
            RecordSets=records,
        )
    )
