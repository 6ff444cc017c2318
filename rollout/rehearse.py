"""`rehearse`: the whole rollout of the real templates against moto running in-process, then checks.

moto runs as an HTTP server on 127.0.0.1 in this process, so every call goes through boto3's
endpoint path exactly as against AWS (only --endpoint-url differs). The administration account
is moto's default account; the environment's accounts are entered through STS AssumeRole, as
on AWS. The only state written directly into moto is what must exist before a rollout and that
no rollout creates: the role bootstrap assumes in each target account, and the existing,
delegated hosted zone a custom domain names by id.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import boto3

from edgeconfig.accounts import EnvironmentTables, WriteReport, push
from edgeconfig.model import EdgeConfig, edge_config_path, load_edge_config
from rollout import naming
from rollout.aws import Access, CallLog, Clients, pages
from rollout.bootstrap import Bootstrapper
from rollout.console import Console
from rollout.deployer import Deployer
from rollout.errors import InputError, RolloutFailed
from rollout.inputs import TemplateSet
from rollout.inspect import collect_outputs, print_outputs
from rollout.publish import publish_templates, report_publication
from rollout.scenarios import DEFAULT_SCENARIO, SCENARIOS
from templates.common import MANAGED_BY
from templates.config import EDGE_REGION, EnvConfig

# moto's default account: the credentials below belong to it.
ADMIN_ACCOUNT = "123456789012"
CLOUDFRONT_HOSTED_ZONE_ID = "Z2FDTNDATAQYW2"
_NUMBERED_VERSION = re.compile(r"^arn:aws:lambda:us-east-1:\d{12}:function:[^:]+:\d+$")


@contextmanager
def moto_server() -> Iterator[str]:
    """moto as an HTTP server on a free port of 127.0.0.1, with the emulated models installed."""
    from moto.server import ThreadedMotoServer

    from rollout.moto_models import install

    install()
    # One line per request on stderr would bury the rehearsal's own output.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def reset_moto(endpoint_url: str) -> None:
    """Start from empty accounts (moto's state is per process, shared by every server in it)."""
    request = urllib.request.Request(f"{endpoint_url}/moto-api/reset", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=30):
        pass


def rehearsal_session() -> boto3.Session:
    """Credentials of moto's default account; nothing else in the chain is consulted."""
    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                         region_name=EDGE_REGION)


def zone_owner(zone_id: str) -> str | None:
    """The account that holds a hosted zone id (a zone lives in exactly one account), or None."""
    from moto.route53.models import route53_backends

    for account in list(route53_backends.keys()):
        for backend in list(dict.values(route53_backends[account])):
            if zone_id in backend.zones:
                return account
    return None


def seed_accounts(env: EnvConfig) -> list[str]:
    """What the accounts hold before any rollout: the bootstrap role, each account's delegated zone.

    A hosted zone exists in the one account that owns it: an account's configured zone is created
    in that account only, and a zone id that some account already holds is not created again (so
    accounts that name another account's zone find none, as on AWS).
    """
    from moto.route53.models import route53_backends

    from rollout.moto_models.assume_role import seed_role

    seeded = []
    for account in env.deploy.accounts:
        if account != ADMIN_ACCOUNT and seed_role(account, naming.DEFAULT_BOOTSTRAP_ROLE_NAME, ADMIN_ACCOUNT,
                                                  "AWS Organizations access"):
            seeded.append(f"{account}: role {naming.DEFAULT_BOOTSTRAP_ROLE_NAME}")
    for account, domain in env.account_domains:
        # Each account's existing, delegated zone, in that account only; a zone id that an account
        # already holds is not created again elsewhere (a zone lives in exactly one account).
        if domain.hosted_zone_id is None or zone_owner(domain.hosted_zone_id) is not None:
            continue
        route53 = route53_backends[account]["aws"]
        zone = route53.create_hosted_zone(domain.zone_name, private_zone=False,
                                          comment="delegated zone (rehearsal)")
        # The config names an existing zone by id: give moto's new zone that id.
        route53.zones.pop(zone.resource_id)
        zone.resource_id = domain.hosted_zone_id
        route53.zones[zone.resource_id] = zone
        seeded.append(f"{account}: hosted zone {domain.zone_name} ({zone.resource_id})")
    return seeded


@dataclass
class Phase:
    name: str
    seconds: float
    calls: CallLog
    operations: int = 0

    @property
    def mutating(self) -> int:
        return len(self.calls.mutating)

    @property
    def reads(self) -> int:
        return len(self.calls.reads)


@dataclass
class Check:
    ok: bool
    text: str


@dataclass
class RehearsalReport:
    env: EnvConfig
    endpoint_url: str
    phases: list[Phase] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    outputs: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def phase(self, name: str) -> Phase:
        return next(p for p in self.phases if p.name == name)


class Rehearsal:
    """A scenario (by default bootstrap, publish, deploy), outputs, a second deploy, then the checks."""

    def __init__(self, templates: TemplateSet, console: Console, endpoint_url: str,
                 clock: Callable[[], float] = time.time, scenario: str = DEFAULT_SCENARIO):
        self.templates = templates
        self.env = templates.env
        self.console = console
        self.endpoint_url = endpoint_url
        self.clock = clock
        self.scenario = SCENARIOS[scenario]
        self.clients = Clients(rehearsal_session(), endpoint_url=endpoint_url, notify=console.line)
        self.report = RehearsalReport(self.env, endpoint_url)
        self.edge_config_pushes: list[tuple[EdgeConfig, WriteReport]] = []

    def _phase(self, name: str, action: Callable[[], Any], operations: Callable[[], int] = lambda: 0) -> Any:
        self.console.line(f"== {name}")
        mark = self.clients.log.mark()
        began = self.clock()
        result = action()
        self.report.phases.append(Phase(name, self.clock() - began, self.clients.log.since(mark), operations()))
        return result

    def run(self) -> RehearsalReport:
        env = self.env
        accounts = ", ".join(env.deploy.accounts)
        self.console.line(f"Rehearsing the rollout of {naming.stack_set_name(env)} against moto at "
                          f"{self.endpoint_url}: administration account {ADMIN_ACCOUNT}, target "
                          f"account(s) {accounts}, region(s) {', '.join(env.regions)}.")
        from rollout.moto_models import unsupported_types

        missing = unsupported_types({name: self.templates.template(name) for name in self.templates.files})
        if missing:
            raise RolloutFailed("the rehearsal cannot emulate these resource types (moto would skip "
                                "them silently): " + "; ".join(f"{kind} ({', '.join(where)})"
                                                               for kind, where in missing.items()))
        for line in seed_accounts(env):
            self.console.line(f"  existing before the rollout: {line}")
        unfit = self.scenario.unfit(env)
        if unfit:
            raise InputError(f"scenario {self.scenario.name}: {unfit}")
        self.console.line(f"Scenario {self.scenario.name}: {self.scenario.summary}")
        self.scenario.bring_up(self)
        self.report.outputs = self._phase("outputs", self._outputs)
        second = Deployer(self.templates, self.clients, self.console, clock=self.clock)
        self._phase("deploy again (no-op)", second.run, lambda: len(second.ops.started))
        if edge_config_path(env.environment).is_file():
            self._phase("edge-config push", self._push_edge_config)
            self._phase("edge-config push again", self._push_edge_config)
        self._phase("site", self._site)
        self.console.line("== checks through the service APIs")
        self._verify()
        for check in self.report.checks:
            self.console.line(f"  {'ok  ' if check.ok else 'FAIL'} {check.text}")
        return self.report

    # --- what scenarios are made of ---

    def bootstrap(self, env: EnvConfig | None = None, name: str = "bootstrap") -> None:
        env = env or self.env
        self._phase(name, lambda: Bootstrapper(env, self.clients, self.console).run())

    def publish(self, templates: TemplateSet | None = None, name: str = "publish") -> None:
        templates = templates or self.templates
        self._phase(name, lambda: report_publication(templates, publish_templates(templates, self.clients),
                                                     self.console))

    def deploy(self, name: str = "deploy", templates: TemplateSet | None = None) -> Deployer:
        """A deploy that must succeed (RolloutFailed/InputError end the rehearsal)."""
        deployer = Deployer(templates or self.templates, self.clients, self.console, clock=self.clock)
        self._phase(name, deployer.run, lambda: len(deployer.ops.started))
        return deployer

    def deploy_refused(self, name: str, templates: TemplateSet | None = None) -> Exception | None:
        """A deploy that must fail: the exception (RolloutFailed or InputError), or None when it did not."""
        deployer = Deployer(templates or self.templates, self.clients, self.console, clock=self.clock)
        outcome: list[Exception] = []

        def run() -> None:
            try:
                deployer.run()
            except (RolloutFailed, InputError) as exc:
                self.console.line(f"  (as intended) {type(exc).__name__}: {str(exc).splitlines()[0]}")
                outcome.append(exc)

        self._phase(name, run, lambda: len(deployer.ops.started))
        return outcome[0] if outcome else None

    def check(self, ok: bool, text: str) -> bool:
        return self._check(ok, text)

    def _push_edge_config(self) -> None:
        """`edge-config push` of config/edge/<env>.yaml to every account, as the command does it."""
        config = load_edge_config(edge_config_path(self.env.environment))
        tables = EnvironmentTables(self.env, self.clients, self.env.deploy.accounts, write=True)
        report = push(tables, config, None, self.clients.caller()[1], message="rehearsal")
        for outcome in report.outcomes:
            self.console.line(f"  {outcome.account}: {tables.where}: {outcome.result}")
        self.edge_config_pushes.append((config, report))

    def _verify_edge_config(self) -> None:
        """Each account's table serves the pushed file, and the same push again wrote nothing."""
        (config, first), (_, again) = self.edge_config_pushes
        for outcome in first.outcomes:
            table = self._client(outcome.account, "dynamodb", self.env.primary_region).get_item(
                TableName=self.env.edge_config_table_name, ConsistentRead=True,
                Key={"config_id": {"S": self.env.environment}, "version": {"N": "0"}}).get("Item", {})
            served = table.get("content_hash", {}).get("S", "(nothing)")
            self._check(outcome.ok and served == config.content_hash,
                        f"{outcome.account}: edge-config push: the table serves {config.source} "
                        f"({served}): {outcome.result}")
        noop = self.report.phase("edge-config push again")
        self._check(again.ok and not again.written and noop.mutating == 0,
                    f"the same edge-config push again wrote nothing ({noop.mutating} mutating calls)")

    def _site(self) -> None:
        """deploy.py site sync, a no-op rebuild, a changed page and a rollback (sitepublish.rehearsal)."""
        from sitepublish.rehearsal import rehearse_site

        if naming.OUTPUT_SITE_PUBLISHER_ROLE_ARN not in self.templates.root.get("Outputs", {}):
            self.console.line(f"  skipped: {naming.ROOT_TEMPLATE} has no {naming.OUTPUT_SITE_PUBLISHER_ROLE_ARN} "
                              "output, so `deploy.py site` has no role to publish through")
            return
        for ok, text in rehearse_site(self.env, self.clients, self.console):
            self._check(ok, text)

    def _outputs(self) -> dict[str, dict[str, dict[str, str]]]:
        outputs = collect_outputs(self.env, self.clients)
        print_outputs(outputs, self.console)
        return outputs

    # --- checks -------------------------------------------------------------------------------

    def _check(self, ok: bool, text: str) -> bool:
        self.report.checks.append(Check(bool(ok), text))
        return bool(ok)

    def _client(self, account: str, service: str, region: str) -> Any:
        # Checks read resources, not only stacks: enter the account with the bootstrap role.
        return self.clients.target(account, service, region, Access.BOOTSTRAP)

    def _verify(self) -> None:
        env = self.env
        noop = self.report.phase("deploy again (no-op)")
        self._check(noop.mutating == 0, f"the second deploy made no mutating call "
                                        f"({noop.mutating} mutating, {noop.reads} reads)")
        cfn = self.clients.admin("cloudformation", naming.STACK_SET_REGION)
        summaries = cfn.list_stack_instances(StackSetName=naming.stack_set_name(env))["Summaries"]
        found = {(s["Account"], s["Region"]): s.get("Status") for s in summaries}
        wanted = {(a, r) for a in env.deploy.accounts for r in env.regions}
        self._check(set(found) == wanted and all(found[k] == "CURRENT" for k in wanted),
                    f"{len(wanted)} stack instances CURRENT ({len(env.deploy.accounts)} account(s) x "
                    f"{', '.join(env.regions)}); found {sorted(found.items())}")
        for account in env.deploy.accounts:
            for verify in (self._verify_account, self._verify_edge_logs, self._verify_table_alarms):
                try:
                    verify(account)
                except Exception as exc:  # a missing resource is a failed check, not a crash
                    self._check(False, f"{account}: {type(exc).__name__}: {exc}")
        if self.edge_config_pushes:
            self._verify_edge_config()

    def _verify_account(self, account: str) -> None:
        env = self.env
        edge = self.report.outputs.get(account, {}).get(EDGE_REGION, {})
        primary = self.report.outputs.get(account, {}).get(env.primary_region, {})
        distribution_arn = edge.get("DistributionArn", "")
        distribution_id = edge.get("DistributionId", "")
        origin_bucket = primary.get("OriginBucketName", "")
        if not self._check(bool(distribution_arn and distribution_id and origin_bucket),
                           f"{account}: outputs DistributionArn/DistributionId ({EDGE_REGION}) and "
                           f"OriginBucketName ({env.primary_region}) are set"):
            return
        cloudfront = self._client(account, "cloudfront", EDGE_REGION)
        distribution = cloudfront.get_distribution(Id=distribution_id)["Distribution"]
        config = distribution["DistributionConfig"]
        self._check(distribution["ARN"] == distribution_arn,
                    f"{account}: distribution {distribution_id} exists in CloudFront with ARN {distribution_arn}")

        policy = json.loads(self._client(account, "s3", env.primary_region)
                            .get_bucket_policy(Bucket=origin_bucket)["Policy"])
        cloudfront_grants = [s for s in policy.get("Statement", []) if s.get("Effect") == "Allow"
                             and "cloudfront.amazonaws.com" in json.dumps(s.get("Principal"))]
        source_arns = sorted({s.get("Condition", {}).get("StringEquals", {}).get("AWS:SourceArn")
                              for s in cloudfront_grants})
        actions = sorted({a for s in cloudfront_grants
                          for a in ([s["Action"]] if isinstance(s.get("Action"), str) else s.get("Action", []))})
        # ListBucket makes a missing object a 404 instead of a 403.
        self._check(source_arns == [distribution_arn] and actions == ["s3:GetObject", "s3:ListBucket"],
                    f"{account}: origin bucket {origin_bucket} ({env.primary_region}) lets CloudFront read and "
                    f"list only for the {EDGE_REGION} distribution (AWS:SourceArn {source_arns}, {actions})")
        origins = [o["DomainName"] for o in config["Origins"].get("Items", [])]
        regional = f"{origin_bucket}.s3.{env.primary_region}.amazonaws.com"
        self._check(regional in origins, f"{account}: the distribution's origin is {regional} (origins {origins})")

        web_acl = config.get("WebACLId", "")
        wafv2 = self._client(account, "wafv2", EDGE_REGION)
        acls = {a["ARN"] for a in wafv2.list_web_acls(Scope="CLOUDFRONT")["WebACLs"]}
        self._check(bool(web_acl) and web_acl in acls and web_acl == edge.get("WebAclArn", web_acl),
                    f"{account}: the distribution carries the CLOUDFRONT web ACL {web_acl or '(none)'}")

        certificate = config.get("ViewerCertificate", {})
        domain = env.domain_for(account)
        if domain is not None and domain.aliases:
            arn = certificate.get("ACMCertificateArn", "")
            described = self._client(account, "acm", EDGE_REGION).describe_certificate(CertificateArn=arn)["Certificate"] \
                if arn.startswith(f"arn:aws:acm:{EDGE_REGION}:") else {}
            names = set([described.get("DomainName", "")] + described.get("SubjectAlternativeNames", []))
            aliases = set(config.get("Aliases", {}).get("Items", []))
            self._check(described.get("Status") == "ISSUED" and aliases <= names and aliases == set(domain.aliases),
                        f"{account}: the distribution uses ISSUED us-east-1 certificate {arn or '(none)'} "
                        f"covering {sorted(aliases)}")
        else:
            self._check(certificate.get("CloudFrontDefaultCertificate") is True,
                        f"{account}: no custom domain: the distribution uses CloudFront's default certificate")

        lambda_client = self._client(account, "lambda", EDGE_REGION)
        associations = config["DefaultCacheBehavior"].get("LambdaFunctionAssociations", {}).get("Items", [])
        arns = [a["LambdaFunctionARN"] for a in associations]
        numbered = [a for a in arns if _NUMBERED_VERSION.match(a)]
        existing = []
        for arn in numbered:
            name, version = arn.split(":")[6], arn.split(":")[7]
            found = lambda_client.get_function(FunctionName=name, Qualifier=version)["Configuration"]
            if found.get("Version") == version:
                existing.append(arn)
        short = ", ".join(":".join(a.split(":")[6:8]) for a in arns) or "(none)"
        self._check(bool(arns) and existing == arns,
                    f"{account}: the distribution's edge functions are numbered versions in us-east-1: {short}")
        self._verify_edge_code(account, lambda_client, numbered)

        if domain is not None and domain.aliases:
            zone_id = domain.hosted_zone_id
            records = self._client(account, "route53", EDGE_REGION).list_resource_record_sets(
                HostedZoneId=zone_id)["ResourceRecordSets"]
            target = distribution["DomainName"].rstrip(".")
            missing = []
            for alias in domain.aliases:
                for record_type in ("A", "AAAA"):
                    match = [r for r in records if r["Name"].rstrip(".") == alias and r["Type"] == record_type
                             and r.get("AliasTarget", {}).get("DNSName", "").rstrip(".") == target
                             and r.get("AliasTarget", {}).get("HostedZoneId") == CLOUDFRONT_HOSTED_ZONE_ID]
                    if not match:
                        missing.append(f"{record_type} {alias}")
            self._check(not missing, f"{account}: Route53 zone {zone_id} aliases "
                                     f"{', '.join(domain.aliases)} (A and AAAA) to {target}"
                                     + (f"; missing {', '.join(missing)}" if missing else ""))


    def _verify_edge_code(self, account: str, lambda_client: Any, version_arns: list[str]) -> None:
        """Each associated version of a function with S3 code runs the package publish built from the
        template's source: its CodeSha256 is that of the object at the function's S3Key in the us-east-1
        templates bucket. (Inline ZipFile code, as in older sets, has no package.)"""
        resources = self.templates.template("lambda_edge.json").get("Resources", {})
        keys = {r["Properties"].get("FunctionName"): r["Properties"]["Code"]["S3Key"] for r in resources.values()
                if r.get("Type") == "AWS::Lambda::Function" and "S3Key" in r["Properties"].get("Code", {})}
        if not keys:
            return
        packaged = [arn for arn in version_arns if arn.split(":")[6] in keys]
        bucket = naming.template_bucket_name(self.env.project, self.clients.account, EDGE_REGION)
        s3 = self.clients.admin("s3", EDGE_REGION)
        wrong = []
        for arn in packaged:
            name, version = arn.split(":")[6], arn.split(":")[7]
            deployed = lambda_client.get_function(FunctionName=name, Qualifier=version)["Configuration"]["CodeSha256"]
            package = s3.get_object(Bucket=bucket, Key=keys[name])["Body"].read()
            if deployed != base64.b64encode(hashlib.sha256(package).digest()).decode():
                wrong.append(f"{name}:{version}")
        self._check(len(packaged) == len(keys) and not wrong,
                    f"{account}: the edge functions run the packages publish built from lambda_edge.json "
                    f"(s3://{bucket}/{self.env.environment}/lambda-edge/)"
                    + (f"; not {', '.join(wrong)}" if wrong else ""))

    def _edge_log_groups(self) -> dict[str, str]:
        """Function name -> the log group its LoggingConfig names, from the lambda_edge template."""
        template = self.templates.template("lambda_edge.json")
        resources = template.get("Resources", {})
        found = {}
        for resource in resources.values():
            properties = resource.get("Properties", {})
            if resource.get("Type") != "AWS::Lambda::Function":
                continue
            group = properties.get("LoggingConfig", {}).get("LogGroup")
            target = resources.get(group.get("Ref"), {}) if isinstance(group, dict) else {}
            found[properties.get("FunctionName")] = target.get("Properties", {}).get("LogGroupName", group)
        return found

    def _verify_edge_logs(self, account: str) -> None:
        """The edge functions log to their own log group, which exists in every edge log region with
        the configured retention, that region's KMS key and the standard tags (CloudWatch Logs API)."""
        env = self.env
        lambda_client = self._client(account, "lambda", EDGE_REGION)
        names = self._edge_log_groups()
        for function, wanted in names.items():
            configured = lambda_client.get_function_configuration(FunctionName=function)["LoggingConfig"]["LogGroup"]
            self._check(configured == wanted, f"{account}: edge function {function} logs to {configured}"
                                              + ("" if configured == wanted else f", not {wanted}"))
        problems = []
        for region in env.edge_log_regions:
            logs = self._client(account, "logs", region)
            groups = {g["logGroupName"]: g for g in pages(logs.describe_log_groups, "logGroups")}
            for name in names.values():
                group = groups.get(name)
                if group is None:
                    problems.append(f"{region}: {name} missing")
                    continue
                if group.get("retentionInDays") != env.function_log_retention_days:
                    problems.append(f"{region}: {name} retention {group.get('retentionInDays')}")
                key = group.get("kmsKeyId", "")
                key_state = self._client(account, "kms", region).describe_key(KeyId=key)["KeyMetadata"]["KeyState"] \
                    if key.startswith(f"arn:aws:kms:{region}:{account}:key/") else "(no key of this region)"
                if key_state != "Enabled":
                    problems.append(f"{region}: {name} key {key or '(none)'} {key_state}")
                tags = logs.list_tags_for_resource(resourceArn=group["arn"].removesuffix(":*")).get("tags", {})
                if (tags.get("Project"), tags.get("Environment"), tags.get("ManagedBy")) != \
                        (env.project, env.environment, MANAGED_BY):
                    problems.append(f"{region}: {name} tags {tags}")
        self._check(not problems, f"{account}: {len(names)} edge-function log groups in each of the "
                                  f"{len(env.edge_log_regions)} edge log regions, with retention "
                                  f"{env.function_log_retention_days} days, that region's KMS key and the tags"
                                  + (f"; {'; '.join(problems)}" if problems else ""))

    def _verify_table_alarms(self, account: str) -> None:
        """Each copy of the edge-config table has its throttle and error alarms in its own region,
        notifying a topic of that region; the primary region watches replication to each replica
        (CloudWatch and SNS APIs)."""
        env = self.env
        table = env.edge_config_table_name
        for region in env.table_regions:
            alarms = [a for a in self._client(account, "cloudwatch", region).describe_alarms(
                AlarmNamePrefix=f"{env.name_prefix}-table-")["MetricAlarms"]
                if {"Name": "TableName", "Value": table} in a.get("Dimensions", [])]
            metrics = sorted({a["MetricName"] for a in alarms})
            receiving = sorted(d["Value"] for a in alarms if a["MetricName"] == "ReplicationLatency"
                               for d in a["Dimensions"] if d["Name"] == "ReceivingRegion")
            actions = {arn for a in alarms for arn in a.get("AlarmActions", [])}
            topics = {t["TopicArn"] for t in self._client(account, "sns", region).list_topics()["Topics"]}
            wanted = {"ReadThrottleEvents", "WriteThrottleEvents", "SystemErrors"}
            if region == env.primary_region and env.replica_regions:
                wanted.add("ReplicationLatency")
            self._check(
                wanted <= set(metrics) and receiving == (sorted(env.replica_regions) if region == env.primary_region else [])
                and bool(actions) and all(a.split(":")[3] == region and a in topics for a in actions),
                f"{account}: {'primary' if region == env.primary_region else 'replica'} table in {region}: alarms on "
                f"{', '.join(metrics) or '(none)'}" + (f" (replication to {', '.join(receiving)})" if receiving else "")
                + f", notifying {', '.join(sorted(actions)) or '(nothing)'}")


def rehearse(templates: TemplateSet, console: Console, endpoint_url: str | None = None,
             scenario: str = DEFAULT_SCENARIO) -> RehearsalReport:
    """Run the rehearsal against `endpoint_url`, or against a moto server started for it."""
    if endpoint_url is not None:
        reset_moto(endpoint_url)
        return Rehearsal(templates, console, endpoint_url, scenario=scenario).run()
    with moto_server() as url:
        return Rehearsal(templates, console, url, scenario=scenario).run()


def run_rehearsal(templates: TemplateSet, console: Console, endpoint_url: str | None = None,
                  scenario: str = DEFAULT_SCENARIO) -> int:
    """The `rehearse` command: exit 0 only when the rollout and every check succeeded."""
    try:
        report = rehearse(templates, console, endpoint_url, scenario)
    except (RolloutFailed, InputError) as exc:
        console.line(f"Rehearsal failed: {exc}")
        return 1
    for phase in report.phases:
        console.line(f"  {phase.name:<38} {phase.seconds:6.2f}s  {phase.mutating:4d} mutating, "
                     f"{phase.reads:4d} read calls" + (f", {phase.operations} stack-set operation(s)"
                                                       if phase.name.startswith("deploy") else ""))
    failed = [c for c in report.checks if not c.ok]
    if failed:
        console.line(f"Rehearsal FAILED: {len(failed)} of {len(report.checks)} checks failed.")
        return 1
    console.line(f"Rehearsal passed: {len(report.checks)} checks.")
    return 0
