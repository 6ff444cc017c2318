"""Route53 component (us-east-1): a new hosted zone, or alias records in an existing delegated one."""

from __future__ import annotations

from troposphere import GetAtt, Join, Ref, Template
from troposphere import route53

from templates.common import add_output, add_parameter, new_template, retain, tags
from templates.config import EnvConfig

# The fixed hosted zone id of every CloudFront distribution, for alias records.
CLOUDFRONT_HOSTED_ZONE_ID = "Z2FDTNDATAQYW2"

DISTRIBUTION_DOMAIN_PATTERN = r"^[a-z0-9]+\.cloudfront\.net$"


def build(env: EnvConfig) -> Template:
    """A new zone (first step: delegate it, then configure its id) or A/AAAA aliases to the distribution."""
    if env.domain is None:
        raise ValueError(f"{env.source}: the route53 component needs a domain section")
    t = new_template(env, "route53", f"DNS for {env.domain.zone_name}")
    if env.domain.creates_zone:
        _add_hosted_zone(t, env)
    else:
        distribution_domain = add_parameter(
            t, "DistributionDomainName", "The distribution's *.cloudfront.net domain name (alias target).",
            AllowedPattern=DISTRIBUTION_DOMAIN_PATTERN, ConstraintDescription="must be a cloudfront.net name",
        )
        _add_alias_records(t, env, distribution_domain)
    return t


def _add_hosted_zone(t: Template, env: EnvConfig) -> route53.HostedZone:
    """A new zone. ACM cannot validate in it until the parent domain delegates to its name servers."""
    zone = t.add_resource(
        retain(
            route53.HostedZone(
                "HostedZone",
                Name=env.domain.zone_name,
                HostedZoneConfig=route53.HostedZoneConfiguration(
                    Comment=f"{env.name_prefix}: delegate to these name servers, then set domain.hosted_zone_id"
                ),
                HostedZoneTags=tags(env),
            )
        )
    )
    add_output(t, "HostedZoneId", Ref(zone), "Id of the new zone: set it as domain.hosted_zone_id once delegated.")
    add_output(t, "NameServers", Join(",", GetAtt(zone, "NameServers")),
               "Name servers to delegate the zone to from its parent domain.")
    return zone


def _add_alias_records(t: Template, env: EnvConfig, distribution_domain) -> route53.RecordSetGroup:
    records = [
        route53.RecordSet(
            Name=f"{name}.",
            Type=record_type,
            AliasTarget=route53.AliasTarget(
                HostedZoneId=CLOUDFRONT_HOSTED_ZONE_ID, DNSName=Ref(distribution_domain), EvaluateTargetHealth=False
            ),
        )
        for name in env.domain.aliases
        for record_type in ("A", "AAAA")  # the distribution serves IPv6 too
    ]
    group = t.add_resource(
        route53.RecordSetGroup(
            "AliasRecords",
            HostedZoneId=env.domain.hosted_zone_id,
            Comment=f"{env.name_prefix}: aliases to the CloudFront distribution",
            RecordSets=records,
        )
    )
    add_output(t, "SiteUrl", f"https://{env.domain.aliases[0]}/", "The site's address.")
    return group
