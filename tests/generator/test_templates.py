"""Structural asserts on the properties users rely on, per component (subsets, not whole dumps)."""

from __future__ import annotations

import hashlib
import json

from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from templates import lambda_edge
from templates.build import build_templates
from templates.config import REGIONAL_EDGE_CACHE_REGIONS, SUPPORTED_REGIONS, load_environment, parse_config
from templates.edge_functions import FUNCTIONS
from templates.lint_rules._edge import admitted_regions, created_in_region



def resources_of(template: dict, resource_type: str) -> dict:
    """The resources of one type in a template, by logical id."""
    return {k: r for k, r in template.get("Resources", {}).items() if r["Type"] == resource_type}

STATEFUL_TYPES = {
    "AWS::S3::Bucket", "AWS::DynamoDB::GlobalTable", "AWS::KMS::Key", "AWS::Logs::LogGroup",
    "AWS::Lambda::Function", "AWS::Lambda::Version", "AWS::Route53::HostedZone",
}


def all_resources(built):
    for env_name, templates in built.items():
        for component, template in templates.items():
            for logical_id, resource in template.get("Resources", {}).items():
                yield env_name, component, logical_id, resource


def created_where(template: dict, logical_id: str, regions) -> list[str]:
    """The regions of `regions` where the template admits a stack and creates the resource."""
    resource = template["Resources"][logical_id]
    return [r for r in admitted_regions(template, list(regions)) if created_in_region(template, resource, r)]


def statements(document: dict) -> list[dict]:
    found = document.get("Statement", [])
    return found if isinstance(found, list) else [found]


# --- root and topology ---------------------------------------------------------------------------

def test_root_chooses_components_by_region(built):
    expected = {
        "LambdaEdgeStack": "IsEdgeLogRegion", "WafStack": "IsEdgeRegion", "CloudfrontStack": "IsEdgeRegion",
        "Route53Stack": "IsEdgeRegionWithDomain", "S3Stack": "IsPrimaryRegion", "DynamodbStack": "IsPrimaryRegion",
        "MonitoringStack": "IsMonitoredRegion",
    }
    for name, templates in built.items():
        root = templates["root"]
        stacks = resources_of(root, "AWS::CloudFormation::Stack")
        for logical_id, stack in stacks.items():
            assert stack.get("Condition") == expected[logical_id], (name, logical_id)
        assert root["Conditions"]["IsEdgeRegion"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}
    assert built["prod"]["root"]["Conditions"]["IsPrimaryRegion"] == {
        "Fn::Equals": [{"Ref": "AWS::Region"}, "us-west-2"]}
    assert "Route53Stack" not in built["dev"]["root"]["Resources"]  # no domain in dev


def test_every_instance_region_gets_only_what_belongs_there(built, envs):
    for name, templates in built.items():
        env, root = envs[name], templates["root"]
        every = list(REGIONAL_EDGE_CACHE_REGIONS) + ["ca-central-1", "eu-north-1"]
        assert admitted_regions(root, every) == [r for r in every if r in env.regions], name
        expected = {
            "LambdaEdgeStack": list(env.edge_log_regions),
            "WafStack": ["us-east-1"], "CloudfrontStack": ["us-east-1"],
            "S3Stack": [env.primary_region], "DynamodbStack": [env.primary_region],
            "MonitoringStack": sorted({"us-east-1", *env.table_regions}),
        }
        for logical_id, regions in expected.items():
            assert sorted(created_where(root, logical_id, env.regions)) == sorted(regions), (name, logical_id)
    # A log-only region (no table, no edge components) gets the log groups and nothing else.
    prod = built["prod"]["root"]
    assert [k for k in prod["Resources"] if created_in_region(prod, prod["Resources"][k], "sa-east-1")] == \
        ["LambdaEdgeStack"]


def test_edge_log_regions_follow_the_price_class_unless_configured(envs, tmp_path):
    assert envs["prod"].edge_log_regions == REGIONAL_EDGE_CACHE_REGIONS  # PriceClass_All
    assert envs["staging"].edge_log_regions == (  # PriceClass_100: North America and Europe
        "us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-central-1", "eu-west-1", "eu-west-2")
    assert envs["prod"].regions == (
        "us-east-1", "us-west-2", "us-east-2", "us-west-1", "ap-south-1", "ap-northeast-1", "ap-northeast-2",
        "ap-southeast-1", "ap-southeast-2", "eu-central-1", "eu-west-1", "eu-west-2", "sa-east-1")
    base = {"project": "shop", "deploy": {"accounts": ["123456789012"]}}
    price_200 = parse_config({**base, "cdn": {"price_class": "PriceClass_200"}}, tmp_path / "qa.yaml", "qa")
    assert "ap-northeast-1" in price_200.edge_log_regions
    assert not {"sa-east-1", "ap-southeast-2"} & set(price_200.edge_log_regions)
    chosen = parse_config({**base, "primary_region": "eu-north-1", "edge_config": {"replica_regions": ["ca-central-1"]},
                           "edge_functions": {"log_regions": ["sa-east-1", "eu-west-1"]}}, tmp_path / "qa.yaml", "qa")
    assert chosen.edge_log_regions == ("us-east-1", "eu-west-1", "sa-east-1")  # us-east-1 always
    assert chosen.regions == ("us-east-1", "eu-north-1", "eu-west-1", "sa-east-1", "ca-central-1")
    assert chosen.monitored_regions == ("us-east-1", "eu-north-1", "ca-central-1")
    # A table region where edge caches run has an instance anyway: its logs are always covered.
    with_replica = parse_config({**base, "edge_config": {"replica_regions": ["ap-southeast-2"]},
                                 "edge_functions": {"log_regions": []}}, tmp_path / "qa.yaml", "qa")
    assert with_replica.edge_log_regions == ("us-east-1", "us-west-2", "ap-southeast-2")
    assert with_replica.regions == ("us-east-1", "us-west-2", "ap-southeast-2")


def test_two_region_root_takes_the_distribution_arn_as_override(built):
    root = built["prod"]["root"]
    assert root["Resources"]["S3Stack"]["Properties"]["Parameters"]["DistributionArn"] == {"Ref": "DistributionArn"}
    rule = root["Rules"]["DistributionArnInPrimaryRegion"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-west-2"]}
    assert root["Rules"]["SupportedRegion"]["Assertions"][0]["Assert"] == {
        "Fn::Contains": [list(load_environment("prod").regions), {"Ref": "AWS::Region"}]}


def test_single_region_root_wires_the_distribution_directly(built):
    root = built["dev"]["root"]
    assert "DistributionArn" not in root["Parameters"]
    assert root["Resources"]["S3Stack"]["Properties"]["Parameters"]["DistributionArn"] == {
        "Fn::GetAtt": ["CloudfrontStack", "Outputs.DistributionArn"]}


def test_template_urls_come_from_bucket_and_prefix(built):
    root = built["staging"]["root"]
    for stack in resources_of(root, "AWS::CloudFormation::Stack").values():
        url = stack["Properties"]["TemplateURL"]["Fn::Sub"]
        assert url[0].startswith("https://${Bucket}.s3.${AWS::Region}.${AWS::URLSuffix}/${Prefix}")
        # One stack-set value names a bucket in every region: <RegionalTemplatesBucketPrefix><region>.
        assert url[1] == {"Bucket": {"Fn::If": ["UsesRegionalTemplatesBucket",
                                                {"Fn::Sub": "${RegionalTemplatesBucketPrefix}${AWS::Region}"},
                                                {"Ref": "TemplatesBucket"}]},
                          "Prefix": {"Ref": "TemplatesPrefix"}}
    assert root["Conditions"]["UsesRegionalTemplatesBucket"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "RegionalTemplatesBucketPrefix"}, ""]}]}
    assert root["Parameters"]["RegionalTemplatesBucketPrefix"]["Default"] == ""  # the console: TemplatesBucket


def test_root_parameters_are_described_constrained_and_grouped(built):
    for name, templates in built.items():
        for component, template in templates.items():
            for parameter_name, parameter in template.get("Parameters", {}).items():
                where = f"{name}/{component}.{parameter_name}"
                assert len(parameter.get("Description", "")) > 20, where
                assert "AllowedPattern" in parameter or "AllowedValues" in parameter, where
        root = templates["root"]
        interface = root["Metadata"]["AWS::CloudFormation::Interface"]
        grouped = [p for group in interface["ParameterGroups"] for p in group["Parameters"]]
        assert sorted(grouped) == sorted(root["Parameters"]), name
        assert sorted(interface["ParameterLabels"]) == sorted(root["Parameters"]), name


def test_root_outputs_are_described_and_conditional(built):
    outputs = built["prod"]["root"]["Outputs"]
    assert outputs["DistributionArn"]["Condition"] == "IsEdgeRegion"
    assert outputs["EdgeConfigTableName"]["Condition"] == "IsPrimaryRegion"
    assert all(len(o["Description"]) > 10 for o in outputs.values())
    for spec in FUNCTIONS:
        assert lambda_edge.version_output_name(spec) in outputs


def test_edge_only_children_assert_their_region(built, envs):
    for component in ("waf", "cloudfront"):
        rule = built["prod"][component]["Rules"]["EdgeRegionOnly"]
        assert rule["Assertions"][0]["Assert"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}
    for name, templates in built.items():
        template = templates["lambda_edge"]
        assert admitted_regions(template, list(REGIONAL_EDGE_CACHE_REGIONS)) == list(envs[name].edge_log_regions)
        # The functions, their role and versions in us-east-1 only; the log groups and key everywhere.
        for logical_id, resource in template["Resources"].items():
            everywhere = resource["Type"] in ("AWS::Logs::LogGroup", "AWS::KMS::Key")
            assert created_where(template, logical_id, envs[name].edge_log_regions) == \
                (list(envs[name].edge_log_regions) if everywhere else ["us-east-1"]), (name, logical_id)
        assert all(o["Condition"] == "IsEdgeRegion" for o in template["Outputs"].values())


# --- data safety, names, tags ------------------------------------------------------------------

def test_stateful_resources_are_retained_except_when_their_first_create_fails(built):
    seen = set()
    for env_name, component, logical_id, resource in all_resources(built):
        where = f"{env_name}/{component}.{logical_id}"
        # Plain Retain would also keep what a failed first create made, and block every retry.
        assert resource.get("DeletionPolicy") != "Retain", where
        if resource["Type"] in STATEFUL_TYPES:
            seen.add(resource["Type"])
            assert resource.get("DeletionPolicy") == "RetainExceptOnCreate", where
            assert resource.get("UpdateReplacePolicy") == "Retain", where
    assert seen == STATEFUL_TYPES - {"AWS::Route53::HostedZone"}  # no new zone in the committed configs


def test_every_taggable_resource_has_the_standard_tags(built, envs):
    checked = 0
    for env_name, component, logical_id, resource in all_resources(built):
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource["Type"]).schema
        tag_property = next((p for p in ("Tags", "HostedZoneTags") if p in schema.get("properties", {})), None)
        if tag_property is None:
            continue
        tags = resource["Properties"].get(tag_property)
        if resource["Type"] == "AWS::DynamoDB::GlobalTable":  # global tables tag each replica
            tags = resource["Properties"]["Replicas"][0]["Tags"]
        values = {t["Key"]: t["Value"] for t in tags or []}
        env = envs[env_name]
        assert values.get("Project") == env.project, (env_name, component, logical_id)
        assert values.get("Environment") == env.environment, (env_name, component, logical_id)
        assert values.get("ManagedBy") == "edge-cdn-generator", (env_name, component, logical_id)
        checked += 1
    assert checked > 50


def test_global_names_carry_account_and_region(built):
    s3 = built["prod"]["s3"]["Resources"]
    assert s3["OriginBucket"]["Properties"]["BucketName"] == {
        "Fn::Sub": "edgecdn-prod-origin-${AWS::AccountId}-us-west-2"}
    assert s3["LogsBucket"]["Properties"]["BucketName"] == {
        "Fn::Sub": "edgecdn-prod-logs-${AWS::AccountId}-${AWS::Region}"}
    cdn_logs = built["prod"]["cloudfront"]["Resources"]["LogsBucket"]["Properties"]
    assert cdn_logs["BucketName"] == {"Fn::Sub": "edgecdn-prod-cdnlogs-${AWS::AccountId}-${AWS::Region}"}
    # IAM role names are per account: the region alone keeps it unique, within 64 characters.
    role = built["prod"]["lambda_edge"]["Resources"]["EdgeFunctionRole"]["Properties"]
    assert role["RoleName"] == {"Fn::Sub": "edgecdn-prod-edge-functions-${AWS::Region}"}
    assert built["prod"]["dynamodb"]["Resources"]["EdgeConfigTable"]["Properties"]["TableName"] == \
        "edgecdn-edge-config-prod"


# --- IAM -----------------------------------------------------------------------------------------

def test_no_wildcard_actions_in_iam_policies(built):
    for env_name, component, logical_id, resource in all_resources(built):
        documents = []
        if resource["Type"] == "AWS::IAM::Role":
            documents = [p["PolicyDocument"] for p in resource["Properties"].get("Policies", [])]
        elif resource["Type"] in ("AWS::S3::BucketPolicy", "AWS::SNS::TopicPolicy"):
            documents = [resource["Properties"]["PolicyDocument"]]
        for document in documents:
            for statement in statements(document):
                if statement["Effect"] != "Allow":
                    continue
                for action in statement["Action"]:
                    assert "*" not in action, (env_name, component, logical_id, action)


def test_edge_role_trusts_lambda_and_edgelambda_and_reads_only_the_table(built):
    role = built["prod"]["lambda_edge"]["Resources"]["EdgeFunctionRole"]["Properties"]
    trust = statements(role["AssumeRolePolicyDocument"])
    assert trust == [{"Action": ["sts:AssumeRole"], "Effect": "Allow",
                      "Principal": {"Service": ["lambda.amazonaws.com", "edgelambda.amazonaws.com"]}}]
    policies = {p["PolicyName"]: statements(p["PolicyDocument"]) for p in role["Policies"]}
    read = policies["ReadEdgeConfig"]
    assert read[0]["Action"] == ["dynamodb:GetItem"]
    assert [r["Fn::Sub"] for r in read[0]["Resource"]] == [
        f"arn:${{AWS::Partition}}:dynamodb:{region}:${{AWS::AccountId}}:table/edgecdn-edge-config-prod"
        for region in ("us-west-2", "eu-west-1", "ap-southeast-2")]
    log_arns = [r["Fn::Sub"] for r in policies["WriteEdgeLogs"][0]["Resource"]]
    assert sorted(log_arns) == sorted(
        f"arn:${{AWS::Partition}}:logs:*:${{AWS::AccountId}}:log-group:/edgecdn/prod/lambda-edge/{spec.event_type}{suffix}"
        for spec in FUNCTIONS for suffix in ("", ":log-stream:*"))
    # Lambda must not create a log group itself: it would have no retention, key or tags, and
    # would make that region's instance fail "already exists".
    assert policies["WriteEdgeLogs"][0]["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]


def test_edge_functions_log_to_retained_encrypted_log_groups_in_every_log_region(built, envs):
    for name, templates in built.items():
        resources = templates["lambda_edge"]["Resources"]
        groups = resources_of(templates["lambda_edge"], "AWS::Logs::LogGroup")
        assert len(groups) == len(FUNCTIONS)
        for spec in FUNCTIONS:
            function = resources[f"{lambda_edge._logical(spec)}Function"]
            group_id = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
            group = groups[group_id]
            assert "Condition" not in group  # every region the template is created in
            assert group["Properties"]["LogGroupName"] == f"/edgecdn/{name}/lambda-edge/{spec.event_type}"
            assert group["Properties"]["RetentionInDays"] == envs[name].function_log_retention_days
            assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["EdgeFunctionLogsKey", "Arn"]}
            assert group["DeletionPolicy"] == "RetainExceptOnCreate"
        assert "Condition" not in resources["EdgeFunctionLogsKey"]


# --- lambda_edge ---------------------------------------------------------------------------------

def test_edge_functions_respect_lambda_at_edge(built, envs):
    functions = resources_of(built["prod"]["lambda_edge"], "AWS::Lambda::Function")
    assert len(functions) == len(FUNCTIONS)
    for spec in FUNCTIONS:
        props = functions[f"{lambda_edge._logical(spec)}Function"]["Properties"]
        assert props["Runtime"] in ("python3.12", "python3.13")
        assert props["Architectures"] == ["x86_64"]
        assert props["Handler"] == spec.handler
        for forbidden in ("Environment", "VpcConfig", "Layers", "DeadLetterConfig", "TracingConfig"):
            assert forbidden not in props
        settings = envs["prod"].edge_function_settings(spec.key)
        assert (props["MemorySize"], props["Timeout"]) == (settings.memory_mb, settings.timeout_seconds)
        if spec.event_type.startswith("viewer-"):
            assert props["MemorySize"] <= 128 and props["Timeout"] <= 5
        function = functions[f"{lambda_edge._logical(spec)}Function"]
        code = function["Metadata"]["EdgeCode"]["index.py"]
        assert "'table_name': 'edgecdn-edge-config-prod'" in code
        assert "'table_regions': ['us-west-2', 'eu-west-1', 'ap-southeast-2']" in code
        compile(code, "index.py", "exec")
        # The package is in the us-east-1 templates bucket, under a key of this source's sha256.
        digest = hashlib.sha256(code.encode()).hexdigest()
        assert props["Code"] == {"S3Bucket": {"Ref": "CodeBucket"},
                                 "S3Key": f"prod/lambda-edge/{spec.event_type}-{digest}.zip"}


def test_version_logical_id_follows_the_code(monkeypatch):
    env = load_environment("staging")

    def version_ids(templates):
        return sorted(resources_of(templates["lambda_edge"], "AWS::Lambda::Version"))

    before = version_ids(build_templates(env))
    assert before == version_ids(build_templates(env))  # same code, same ids
    original = lambda_edge.bake_source
    monkeypatch.setattr(lambda_edge, "bake_source",
                        lambda settings, trigger: original(settings, trigger) + "\n# changed\n")
    after = version_ids(build_templates(env))
    assert len(after) == len(FUNCTIONS) and not set(before) & set(after)


# --- cloudfront ----------------------------------------------------------------------------------

def test_distribution_security(built):
    for name in ("staging", "prod"):
        config = built[name]["cloudfront"]["Resources"]["Distribution"]["Properties"]["DistributionConfig"]
        # Every account of these environments has its own domain: TLSv1.2_2021 with its certificate.
        assert config["ViewerCertificate"]["MinimumProtocolVersion"] == "TLSv1.2_2021"
        assert config["ViewerCertificate"]["SslSupportMethod"] == {
            "Fn::If": ["ServesAliases", "sni-only", {"Ref": "AWS::NoValue"}]}
        assert config["HttpVersion"] == "http2and3" and config["IPV6Enabled"] is True
        assert config["WebACLId"] == {"Ref": "WebAclArn"}
        assert config["Logging"]["Bucket"] == {"Fn::GetAtt": ["LogsBucket", "DomainName"]}
        for behavior in [config["DefaultCacheBehavior"], *config["CacheBehaviors"]]:
            assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
            associations = {a["EventType"]: a["LambdaFunctionARN"] for a in behavior["LambdaFunctionAssociations"]}
            assert associations == {spec.event_type: {"Ref": lambda_edge.version_output_name(spec)}
                                    for spec in FUNCTIONS}
    prod = built["prod"]["cloudfront"]
    assert prod["Parameters"]["ViewerRequestVersionArn"]["AllowedPattern"].endswith(":[0-9]+$")


def test_each_account_serves_its_own_aliases_with_its_own_certificate(built):
    cloudfront = built["prod"]["cloudfront"]
    certificates = resources_of(cloudfront, "AWS::CertificateManager::Certificate")
    assert sorted(certificates) == ["Certificate333333333333", "Certificate444444444444",
                                    "Certificate555555555555"]
    first = certificates["Certificate333333333333"]
    assert first["Condition"] == "IsAccount333333333333"
    assert first["Properties"]["ValidationMethod"] == "DNS"
    assert first["Properties"]["DomainName"] == "example.com"
    assert first["Properties"]["SubjectAlternativeNames"] == ["www.example.com"]
    assert first["Properties"]["DomainValidationOptions"] == [
        {"DomainName": "example.com", "HostedZoneId": "Z0PROD00000EXAMPLE0001"},
        {"DomainName": "www.example.com", "HostedZoneId": "Z0PROD00000EXAMPLE0001"}]
    assert certificates["Certificate444444444444"]["Properties"]["DomainValidationOptions"] == [
        {"DomainName": "shop.example.com", "HostedZoneId": "Z0PRODSHOP0EXAMPLE0002"}]
    assert cloudfront["Conditions"]["IsAccount444444444444"] == {
        "Fn::Equals": [{"Ref": "AWS::AccountId"}, "444444444444"]}
    config = cloudfront["Resources"]["Distribution"]["Properties"]["DistributionConfig"]
    no_value = {"Ref": "AWS::NoValue"}
    assert config["Aliases"] == {"Fn::If": ["IsAccount333333333333", ["example.com", "www.example.com"],
                                            {"Fn::If": ["IsAccount444444444444", ["shop.example.com"],
                                                        {"Fn::If": ["IsAccount555555555555", ["docs.example.com"],
                                                                    no_value]}]}]}
    assert config["ViewerCertificate"]["AcmCertificateArn"] == {
        "Fn::If": ["IsAccount333333333333", {"Ref": "Certificate333333333333"},
                   {"Fn::If": ["IsAccount444444444444", {"Ref": "Certificate444444444444"},
                               {"Fn::If": ["IsAccount555555555555", {"Ref": "Certificate555555555555"},
                                           no_value]}]}]}


def test_root_refuses_an_account_that_is_not_configured(built):
    rule = built["prod"]["root"]["Rules"]["ConfiguredAccount"]["Assertions"][0]
    assert rule["Assert"] == {"Fn::Contains": [["333333333333", "444444444444", "555555555555"],
                                               {"Ref": "AWS::AccountId"}]}


def test_accounts_with_and_without_a_domain_share_one_template(tmp_path):
    data = {"project": "shop", "primary_region": "us-west-2", "deploy": {"accounts": [
        {"id": "111111111111", "domain": {"zone_name": "a.example.org", "hosted_zone_id": "Z1A",
                                          "aliases": ["a.example.org"]}},
        "222222222222",
        {"id": "333333333333", "domain": {"zone_name": "c.example.org"}},
    ]}}
    templates = build_templates(parse_config(data, tmp_path / "qa.yaml", "qa"))
    cloudfront = templates["cloudfront"]
    assert list(resources_of(cloudfront, "AWS::CertificateManager::Certificate")) == ["Certificate111111111111"]
    viewer = cloudfront["Resources"]["Distribution"]["Properties"]["DistributionConfig"]["ViewerCertificate"]
    no_value = {"Ref": "AWS::NoValue"}
    assert viewer == {
        "AcmCertificateArn": {"Fn::If": ["IsAccount111111111111", {"Ref": "Certificate111111111111"}, no_value]},
        "CloudFrontDefaultCertificate": {"Fn::If": ["ServesAliases", no_value, True]},
        "MinimumProtocolVersion": {"Fn::If": ["ServesAliases", "TLSv1.2_2021", no_value]},
        "SslSupportMethod": {"Fn::If": ["ServesAliases", "sni-only", no_value]},
    }
    skips = {s["id"] for s in cloudfront["Resources"]["Distribution"]["Metadata"]["checkov"]["skip"]}
    assert skips == {"CKV_AWS_174"}
    route53 = templates["route53"]
    assert resources_of(route53, "AWS::Route53::HostedZone")["HostedZone333333333333"]["Condition"] == \
        "IsAccount333333333333"
    assert resources_of(route53, "AWS::Route53::RecordSetGroup")["AliasRecords111111111111"]["Condition"] == \
        "IsAccount111111111111"
    root = templates["root"]
    assert root["Conditions"]["IsEdgeRegionWithDomain"] == {"Fn::And": [
        {"Condition": "IsEdgeRegion"},
        {"Fn::Or": [{"Fn::Equals": [{"Ref": "AWS::AccountId"}, "111111111111"]},
                    {"Fn::Equals": [{"Ref": "AWS::AccountId"}, "333333333333"]}]}]}
    assert root["Outputs"]["NameServers"]["Condition"] == "IsEdgeRegionCreatingZone"
    assert root["Outputs"]["SiteUrl"]["Condition"] == "IsEdgeRegionServingAliases"


def test_dev_without_domain_uses_the_default_certificate_with_a_reasoned_skip(built):
    distribution = built["dev"]["cloudfront"]["Resources"]["Distribution"]
    assert distribution["Properties"]["DistributionConfig"]["ViewerCertificate"] == {
        "CloudFrontDefaultCertificate": True}
    skips = {s["id"]: s["comment"] for s in distribution["Metadata"]["checkov"]["skip"]}
    assert list(skips) == ["CKV_AWS_174"] and "default certificate" in skips["CKV_AWS_174"]


def test_origin_uses_origin_access_control(built):
    template = built["prod"]["cloudfront"]
    origin = template["Resources"]["Distribution"]["Properties"]["DistributionConfig"]["Origins"][0]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["OriginAccessControl", "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    assert origin["DomainName"] == {"Ref": "OriginDomainName"}
    oac = template["Resources"]["OriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
    assert (oac["SigningBehavior"], oac["SigningProtocol"], oac["OriginAccessControlOriginType"]) == (
        "always", "sigv4", "s3")
    assert not any(r["Type"] == "AWS::CloudFront::CloudFrontOriginAccessIdentity"
                   for _, _, _, r in all_resources(built))
    domain = built["prod"]["root"]["Resources"]["CloudfrontStack"]["Properties"]["Parameters"]["OriginDomainName"]
    assert domain == {"Fn::Sub": "edgecdn-prod-origin-${AWS::AccountId}-us-west-2.s3.us-west-2.${AWS::URLSuffix}"}


def test_cache_keys_are_minimal_and_compressed(built):
    for policy in resources_of(built["prod"]["cloudfront"], "AWS::CloudFront::CachePolicy").values():
        key = policy["Properties"]["CachePolicyConfig"]["ParametersInCacheKeyAndForwardedToOrigin"]
        assert key["CookiesConfig"] == {"CookieBehavior": "none"}
        assert key["HeadersConfig"] == {"HeaderBehavior": "none"}
        assert key["QueryStringsConfig"] == {"QueryStringBehavior": "none"}
        assert key["EnableAcceptEncodingGzip"] and key["EnableAcceptEncodingBrotli"]


def test_security_headers(built, envs):
    policy = built["prod"]["cloudfront"]["Resources"]["SecurityHeadersPolicy"]["Properties"]
    headers = policy["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31_536_000
    assert headers["ContentTypeOptions"] == {"Override": True}
    assert headers["FrameOptions"]["FrameOption"] == "DENY"
    assert headers["ReferrerPolicy"]["ReferrerPolicy"] == "strict-origin-when-cross-origin"
    assert headers["ContentSecurityPolicy"]["ContentSecurityPolicy"] == envs["prod"].content_security_policy


def test_no_distribution_wide_error_page_turns_a_missing_asset_into_html(built):
    # The SPA fallback is the viewer-request function's (extension-less paths only); an error page
    # for 403/404 would answer a missing /assets/app.js with index.html and status 200.
    for name, templates in built.items():
        config = templates["cloudfront"]["Resources"]["Distribution"]["Properties"]["DistributionConfig"]
        assert "CustomErrorResponses" not in config, name


# --- s3, dynamodb, waf, route53, monitoring ----------------------------------------------------

def test_origin_bucket_is_private_and_readable_only_by_this_distribution(built):
    resources = built["prod"]["s3"]["Resources"]
    bucket = resources["OriginBucket"]["Properties"]
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": "LogsBucket"}
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"][
        "SSEAlgorithm"] == "aws:kms"
    assert bucket["LifecycleConfiguration"]["Rules"][0]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 90}
    policy = statements(resources["OriginBucketPolicy"]["Properties"]["PolicyDocument"])
    deny, read, list_for_404, deny_site_state = policy
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    for allow in (read, list_for_404):
        assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
        assert allow["Condition"] == {"StringEquals": {"AWS:SourceArn": {"Ref": "DistributionArn"}}}
    assert read["Action"] == ["s3:GetObject"]
    assert read["Resource"] == [{"Fn::Sub": ["${Arn}/*", {"Arn": {"Fn::GetAtt": ["OriginBucket", "Arn"]}}]}]
    # ListBucket on the bucket itself: S3 then answers a missing key with 404, not 403.
    assert list_for_404["Action"] == ["s3:ListBucket"]
    assert list_for_404["Resource"] == [{"Fn::GetAtt": ["OriginBucket", "Arn"]}]
    # deploy.py site keeps its release manifests under .edgecdn/: no viewer may fetch them.
    assert deny_site_state["Effect"] == "Deny"
    assert deny_site_state["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert deny_site_state["Action"] == ["s3:GetObject"]
    assert deny_site_state["Resource"] == [
        {"Fn::Sub": ["${Arn}/.edgecdn/*", {"Arn": {"Fn::GetAtt": ["OriginBucket", "Arn"]}}]}]
    assert "Condition" not in deny_site_state


def test_site_publisher_role_is_scoped_to_the_bucket_its_key_and_the_distribution(built):
    for name in ("prod", "dev"):
        resources = built[name]["s3"]["Resources"]
        role = resources["SitePublisherRole"]["Properties"]
        assert role["RoleName"] == {"Fn::Sub": f"edgecdn-{name}-site-publisher-${{AWS::Region}}"}
        (trust,) = statements(role["AssumeRolePolicyDocument"])
        assert trust["Action"] == ["sts:AssumeRole"]
        # The deploying account (a stack-set parameter), or this stack's account when it is empty.
        assert trust["Principal"] == {"AWS": {"Fn::If": [
            "SitePublisherTrustsOwnAccount",
            {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"},
            {"Fn::Sub": ["arn:${AWS::Partition}:iam::${Account}:root", {"Account": {"Ref": "SitePublisherAccount"}}]},
        ]}}
        (policy,) = role["Policies"]
        granted = {(tuple(s["Action"]), json.dumps(s["Resource"], sort_keys=True))
                   for s in statements(policy["PolicyDocument"])}
        bucket_arn = {"Fn::GetAtt": ["OriginBucket", "Arn"]}
        assert granted == {
            (("s3:ListBucket",), json.dumps([bucket_arn])),
            (("s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject"),
             json.dumps([{"Fn::Sub": ["${Arn}/*", {"Arn": bucket_arn}]}], sort_keys=True)),
            (("kms:GenerateDataKey", "kms:Decrypt"), json.dumps([{"Fn::GetAtt": ["OriginBucketKey", "Arn"]}])),
            (("cloudfront:CreateInvalidation", "cloudfront:GetInvalidation"), json.dumps([{"Ref": "DistributionArn"}])),
        }
        assert all(s["Effect"] == "Allow" for s in statements(policy["PolicyDocument"]))
        root = built[name]["root"]
        assert root["Resources"]["S3Stack"]["Properties"]["Parameters"]["SitePublisherAccount"] == {
            "Ref": "SitePublisherAccount"}
        assert root["Parameters"]["SitePublisherAccount"]["Default"] == ""
        assert root["Outputs"]["SitePublisherRoleArn"] == {
            "Condition": "IsPrimaryRegion", "Description": root["Outputs"]["SitePublisherRoleArn"]["Description"],
            "Value": {"Fn::GetAtt": ["S3Stack", "Outputs.SitePublisherRoleArn"]}}


def test_site_publisher_role_name_fits_iam_for_the_longest_names(tmp_path):
    """IAM role names are at most 64 characters: project (16) + environment (10) + the longest region."""
    data = {"project": "p" * 15 + "9", "primary_region": "ap-southeast-2",
            "deploy": {"accounts": ["111111111111"]}}
    env = parse_config(data, tmp_path / "abcdefghij.yaml", "abcdefghij")
    role = build_templates(env)["s3"]["Resources"]["SitePublisherRole"]["Properties"]
    name = role["RoleName"]["Fn::Sub"].replace("${AWS::Region}", max(SUPPORTED_REGIONS, key=len))
    assert len(name) == 57, name  # IAM allows 64


def test_logs_buckets_accept_cloudfront_and_server_access_logs(built):
    for component in ("s3", "cloudfront"):
        bucket = built["prod"][component]["Resources"]["LogsBucket"]["Properties"]
        assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerPreferred"}]
        assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
            "ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
        assert bucket["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 365


def test_edge_config_table(built):
    table = built["prod"]["dynamodb"]["Resources"]["EdgeConfigTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [{"AttributeName": "config_id", "KeyType": "HASH"},
                                  {"AttributeName": "version", "KeyType": "RANGE"}]
    assert table["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}
    assert [r["Region"] for r in table["Replicas"]] == ["us-west-2", "eu-west-1", "ap-southeast-2"]
    for replica in table["Replicas"]:
        assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert replica["DeletionProtectionEnabled"] is True
    assert [r["Region"] for r in built["dev"]["dynamodb"]["Resources"]["EdgeConfigTable"]["Properties"][
        "Replicas"]] == ["us-east-1"]


def test_web_acl(built):
    acl = built["prod"]["waf"]["Resources"]["WebAcl"]["Properties"]
    assert acl["Scope"] == "CLOUDFRONT"
    rules = {r["Name"]: r for r in acl["Rules"]}
    assert rules["GeoBlock"]["Statement"]["GeoMatchStatement"]["CountryCodes"] == ["KP", "IR"]
    assert rules["RateLimitPerIp"]["Statement"]["RateBasedStatement"]["Limit"] == 2000
    for group in ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
                  "AWSManagedRulesAmazonIpReputationList"):
        assert rules[group]["OverrideAction"] == {"None": {}}
    assert sorted(r["Priority"] for r in acl["Rules"]) == list(range(len(acl["Rules"])))
    assert "GeoBlock" not in {r["Name"] for r in built["dev"]["waf"]["Resources"]["WebAcl"]["Properties"]["Rules"]}
    log_group = built["prod"]["waf"]["Resources"]["WebAclLogGroup"]["Properties"]
    assert log_group["LogGroupName"].startswith("aws-waf-logs-")
    assert log_group["RetentionInDays"] == 365 and "KmsKeyId" in log_group


def test_alias_records_point_at_the_distribution(built):
    route53 = built["prod"]["route53"]["Resources"]
    assert sorted(route53) == ["AliasRecords333333333333", "AliasRecords444444444444", "AliasRecords555555555555"]
    assert route53["AliasRecords444444444444"]["Condition"] == "IsAccount444444444444"
    assert route53["AliasRecords444444444444"]["Properties"]["HostedZoneId"] == "Z0PRODSHOP0EXAMPLE0002"
    records = route53["AliasRecords333333333333"]["Properties"]
    assert records["HostedZoneId"] == "Z0PROD00000EXAMPLE0001"
    pairs = sorted((r["Name"], r["Type"]) for r in records["RecordSets"])
    assert pairs == [("example.com.", "A"), ("example.com.", "AAAA"),
                     ("www.example.com.", "A"), ("www.example.com.", "AAAA")]
    for record in records["RecordSets"]:
        assert record["AliasTarget"]["DNSName"] == {"Ref": "DistributionDomainName"}
        assert record["AliasTarget"]["HostedZoneId"] == "Z2FDTNDATAQYW2"


def test_new_zone_is_a_first_step_without_certificate_or_aliases(tmp_path):
    data = {"project": "shop", "primary_region": "us-west-2", "deploy": {"accounts": ["123456789012"]},
            "domain": {"zone_name": "shop.example.org"}}
    env = parse_config(data, tmp_path / "qa.yaml", "qa")
    templates = build_templates(env)
    assert list(resources_of(templates["route53"], "AWS::Route53::HostedZone")) == ["HostedZone123456789012"]
    assert not resources_of(templates["route53"], "AWS::Route53::RecordSetGroup")
    assert not resources_of(templates["cloudfront"], "AWS::CertificateManager::Certificate")
    assert templates["root"]["Outputs"]["NameServers"]["Value"] == {
        "Fn::GetAtt": ["Route53Stack", "Outputs.NameServers"]}


def test_alarms_live_where_their_metrics_are(built):
    alarms = resources_of(built["prod"]["monitoring"], "AWS::CloudWatch::Alarm")
    by_namespace = {}
    for alarm in alarms.values():
        by_namespace.setdefault(alarm["Properties"]["Namespace"], set()).add(alarm["Condition"])
    assert by_namespace == {"AWS/CloudFront": {"IsEdgeRegion"}, "AWS/WAFV2": {"IsEdgeRegion"},
                            "AWS/DynamoDB": {"IsPrimaryRegion", "IsTableRegion"}, "AWS/S3": {"IsPrimaryRegion"}}
    metrics = {a["Properties"]["MetricName"] for a in alarms.values()}
    assert {"5xxErrorRate", "4xxErrorRate", "OriginLatency", "LambdaExecutionError", "LambdaValidationError",
            "BlockedRequests", "ReadThrottleEvents", "WriteThrottleEvents", "SystemErrors"} <= metrics
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_each_table_replica_has_its_alarms_and_topic_in_its_region(built):
    monitoring = built["prod"]["monitoring"]
    assert admitted_regions(monitoring, list(REGIONAL_EDGE_CACHE_REGIONS)) == [
        "us-east-1", "us-west-2", "ap-southeast-2", "eu-west-1"]
    alarms = resources_of(monitoring, "AWS::CloudWatch::Alarm")
    for region in ("eu-west-1", "ap-southeast-2"):
        here = {alarms[k]["Properties"]["MetricName"]: alarms[k]["Properties"]
                for k in alarms if created_in_region(monitoring, alarms[k], region)}
        assert set(here) == {"ReadThrottleEvents", "WriteThrottleEvents", "SystemErrors"}, region
        assert here["SystemErrors"]["Dimensions"] == [{"Name": "TableName", "Value": "edgecdn-edge-config-prod"},
                                                      {"Name": "Operation", "Value": "GetItem"}]
        for logical_id in ("AlarmTopic", "AlarmTopicKey", "AlarmTopicPolicy"):
            assert created_in_region(monitoring, monitoring["Resources"][logical_id], region)
    # ReplicationLatency is published where the write was made (the primary), per receiving region.
    latency = {a["Properties"]["Dimensions"][1]["Value"]: a for a in alarms.values()
               if a["Properties"]["MetricName"] == "ReplicationLatency"}
    assert sorted(latency) == ["ap-southeast-2", "eu-west-1"]
    for region, alarm in latency.items():
        assert alarm["Condition"] == "IsPrimaryRegion"
        assert alarm["Properties"]["Dimensions"][0] == {"Name": "TableName", "Value": "edgecdn-edge-config-prod"}
        assert alarm["Properties"]["Threshold"] == 60000
    # Without replicas, nothing of the kind.
    assert not [a for a in resources_of(built["staging"]["monitoring"], "AWS::CloudWatch::Alarm").values()
                if a["Properties"]["MetricName"] == "ReplicationLatency"]


def test_alarm_topic_is_encrypted_for_cloudwatch(built):
    resources = built["prod"]["monitoring"]["Resources"]
    assert resources["AlarmTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}
    key_statements = statements(resources["AlarmTopicKey"]["Properties"]["KeyPolicy"])
    assert any(s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"} for s in key_statements)
    assert resources["AlarmEmailSubscription"]["Condition"] == "HasAlarmEmail"


def test_dashboard_widgets_read_each_metric_in_its_region(built):
    dashboard = built["prod"]["monitoring"]["Resources"]["Dashboard"]
    assert dashboard["Condition"] == "IsEdgeRegion"
    body = json.loads(dashboard["Properties"]["DashboardBody"]["Fn::Sub"][0])
    regions = {w["properties"]["metrics"][0][0]: w["properties"]["region"] for w in body["widgets"]}
    assert regions == {"AWS/CloudFront": "us-east-1", "AWS/WAFV2": "us-east-1",
                       "AWS/DynamoDB": "us-west-2", "AWS/S3": "us-west-2"}
