"""aws observability under the recording mocks: the alert topic and its key, every alarm (metric, namespace,
dimensions, statistic, threshold, periods, actions), the dashboard parsed back, the saved queries, the
encrypted log groups, WAF on the production load balancer and the cache's customer key."""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

import pytest

from components.aws.observability import QUERIES
from components.aws.waf import BODY_RULES, REQUESTS_LIMIT, UNAUTHENTICATED_LIMIT, web_acl_rules
from components.policy_documents import KMS_ADMIN_ACTIONS
from tests.conftest import ROOT
from tools.mock_program import ACCOUNT, ProgramRun, Registration, run_program, unwrap

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROOT_PRINCIPAL = f"arn:aws:iam::{ACCOUNT}:root"
EMAILS = ["ops@example.com", "Oncall+Registry@example.org"]
# prod with a scheduled gc, two alert addresses, its own thresholds and the cache under a key of its own
TUNED = {
    "registry:maintenance": '{"schedule": "0 3 * * 0", "gc": true}',
    "registry:alerts": json.dumps({"emails": EMAILS, "p99LatencySeconds": 3.5, "fiveXxPercent": 2}),
    "registry:cache": '{"enabled": true, "nodeType": "cache.t4g.small", "customerKey": true}',
}
# the edge's audit line, field by field (components/renderers/audit.py)
AUDIT_FIELDS = (
    "time",
    "user",
    "client",
    "method",
    "repository",
    "reference",
    "status",
    "bytes",
    "received",
    "duration",
    "request",
    "agent",
)


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_program(ROOT, "prod")


@pytest.fixture(scope="module")
def tuned() -> ProgramRun:
    return run_program(ROOT, "prod", overrides=TUNED)


@pytest.fixture(scope="module")
def dev() -> ProgramRun:
    return run_program(ROOT, "dev")


@pytest.fixture(scope="module")
def glob() -> ProgramRun:
    return run_program(ROOT, "global")


def plain(r: Registration) -> dict[str, Any]:
    value: dict[str, Any] = unwrap(r.inputs)
    return value


def alarms(run: ProgramRun, prefix: str = "registry-observability-") -> dict[str, dict[str, Any]]:
    """This region's alarms by role (the resource name after the component's)."""
    return {r.name.removeprefix(prefix): plain(r) for r in run.of_type(ALARM) if r.name.startswith(prefix)}


def output(run: ProgramRun, name: str, key: str = "arn") -> Any:
    return run.named(name).outputs[key]


def suffix(run: ProgramRun, name: str) -> str:
    return str(output(run, name, "arnSuffix"))


def statements(document: Any) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in json.loads(unwrap(document))["Statement"]}


# ---------------------------------------------------------------- the topic and its key


def test_the_alert_topic_is_under_the_logs_key_and_mails_each_address(tuned: ProgramRun) -> None:
    topic = tuned.named("registry-observability-alerts")
    assert plain(topic)["kmsMasterKeyId"] == output(tuned, "registry-logs-key")
    subscriptions = {plain(s)["endpoint"]: s for s in tuned.of_type("aws:sns/topicSubscription:TopicSubscription")}
    assert set(subscriptions) == set(EMAILS)
    for address, subscription in subscriptions.items():
        assert plain(subscription)["protocol"] == "email"
        assert plain(subscription)["topic"] == topic.outputs["arn"]
        # named by address: removing one address never replaces another's (confirmed) subscription
        assert subscription.name == f"registry-observability-alerts-{address.lower()}"


def test_the_dev_topic_has_no_subscription(dev: ProgramRun) -> None:
    assert dev.of_type("aws:sns/topicSubscription:TopicSubscription") == []
    assert plain(dev.named("registry-observability-alerts"))["kmsMasterKeyId"] == output(dev, "registry-logs-key")


def test_the_logs_key_lets_cloudwatch_logs_use_it_for_the_stacks_log_groups_only(prod: ProgramRun) -> None:
    key = prod.named("registry-logs-key")
    inputs = plain(key)
    assert (inputs["enableKeyRotation"], inputs["deletionWindowInDays"], key.protect) == (True, 30.0, True)
    policy = statements(key.inputs["policy"])
    assert set(policy) == {
        "AccountAdministersTheKey",
        "CloudWatchLogsEncryptsTheRegistryLogs",
        "CloudWatchAlarmsPublishToTheAlertTopic",
    }
    assert policy["AccountAdministersTheKey"]["Principal"] == {"AWS": ROOT_PRINCIPAL}
    assert policy["AccountAdministersTheKey"]["Action"] == KMS_ADMIN_ACTIONS
    logs = policy["CloudWatchLogsEncryptsTheRegistryLogs"]
    assert logs["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    assert logs["Action"] == ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    arn = f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:"
    assert logs["Condition"] == {
        "ArnLike": {
            "kms:EncryptionContext:aws:logs:arn": [
                f"{arn}registry-service-logs-*",
                f"{arn}registry-network-flow-logs-*",
                f"{arn}aws-waf-logs-registry-prod-eu-west-1",
            ]
        }
    }
    alarms_ = policy["CloudWatchAlarmsPublishToTheAlertTopic"]
    assert alarms_["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert alarms_["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert alarms_["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_every_log_group_is_under_the_logs_key_and_named_as_its_policy_says(prod: ProgramRun, dev: ProgramRun) -> None:
    for run, expected in ((prod, 3), (dev, 1)):
        key = run.named("registry-logs-key")
        patterns = json.loads(unwrap(key.inputs["policy"]))["Statement"][1]["Condition"]["ArnLike"]
        groups = run.of_type(LOG_GROUP)
        assert len(groups) == expected
        for group in groups:
            inputs = plain(group)
            assert inputs["kmsKeyId"] == key.outputs["arn"], group.name
            assert inputs["retentionInDays"] == (365.0 if run is prod else 7.0)
            # a Pulumi-named group is "<resource name>-<7 characters>" (the mocks shorten long names; the engine
            # does not), a named one keeps its name: either way the key's policy covers its ARN
            name = inputs.get("name") or f"{group.name}-a1b2c3d"
            arn = f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:{name}"
            assert any(fnmatch.fnmatchcase(arn, p) for p in patterns["kms:EncryptionContext:aws:logs:arn"]), name


def test_each_region_has_its_own_logs_key_in_its_region(glob: ProgramRun) -> None:
    for region in ("us-east-1", "ap-southeast-1"):
        key = glob.named(f"registry-{region}-logs-key")
        assert key.provider.startswith(glob.named(f"registry-aws-{region}").urn)
        logs = statements(key.inputs["policy"])["CloudWatchLogsEncryptsTheRegistryLogs"]
        assert logs["Principal"] == {"Service": f"logs.{region}.amazonaws.com"}
        group = glob.named(f"registry-{region}-service-logs")
        assert plain(group)["kmsKeyId"] == key.outputs["arn"]
        assert plain(glob.named(f"registry-{region}-observability-alerts"))["kmsMasterKeyId"] == key.outputs["arn"]


# ---------------------------------------------------------------- alarms


def test_every_alarm_notifies_the_topic_when_it_fires_and_clears(tuned: ProgramRun) -> None:
    topic = output(tuned, "registry-observability-alerts")
    found = alarms(tuned)
    assert set(found) == {
        "5xx-rate",
        "no-healthy-hosts",
        "p99-latency",
        "running-tasks",
        "cache-evictions",
        "gc-failed",
    }
    for role, alarm in found.items():
        assert alarm["name"] == f"registry-prod-eu-west-1-{role}"
        assert (alarm["alarmActions"], alarm["okActions"], alarm["actionsEnabled"]) == ([topic], [topic], True)
        assert alarm["alarmDescription"].startswith("registry-prod (eu-west-1): ")


def test_the_5xx_rate_is_metric_math_over_the_load_balancer(tuned: ProgramRun) -> None:
    alarm = alarms(tuned)["5xx-rate"]
    lb = {"LoadBalancer": suffix(tuned, "registry-lb-alb")}
    queries = {q["id"]: q for q in alarm["metricQueries"]}
    for query_id, metric in (
        ("target5xx", "HTTPCode_Target_5XX_Count"),
        ("elb5xx", "HTTPCode_ELB_5XX_Count"),
        ("requests", "RequestCount"),
    ):
        assert queries[query_id]["metric"] == {
            "namespace": "AWS/ApplicationELB",
            "metricName": metric,
            "dimensions": lb,
            "stat": "Sum",
            "period": 60.0,
        }
        assert queries[query_id]["returnData"] is False
    assert queries["rate"]["expression"] == "100 * (FILL(target5xx, 0) + FILL(elb5xx, 0)) / requests"
    assert queries["rate"]["returnData"] is True
    assert (alarm["threshold"], alarm["comparisonOperator"]) == (2.0, "GreaterThanThreshold")  # fiveXxPercent
    assert (alarm["evaluationPeriods"], alarm["datapointsToAlarm"], alarm["treatMissingData"]) == (
        5.0,
        3.0,
        "notBreaching",
    )
    assert "metricName" not in alarm and "statistic" not in alarm


def test_no_healthy_edge_and_p99_latency_read_the_edge_target_group(tuned: ProgramRun) -> None:
    found = alarms(tuned)
    edge = {"TargetGroup": suffix(tuned, "registry-lb-edge"), "LoadBalancer": suffix(tuned, "registry-lb-alb")}
    hosts, latency = found["no-healthy-hosts"], found["p99-latency"]
    assert (hosts["namespace"], hosts["metricName"], hosts["dimensions"]) == (
        "AWS/ApplicationELB",
        "HealthyHostCount",
        edge,
    )
    assert (hosts["statistic"], hosts["period"], hosts["evaluationPeriods"], hosts["datapointsToAlarm"]) == (
        "Maximum",
        60.0,
        2.0,
        2.0,
    )
    assert (hosts["threshold"], hosts["comparisonOperator"], hosts["treatMissingData"]) == (
        1.0,
        "LessThanThreshold",
        "breaching",
    )
    assert (latency["namespace"], latency["metricName"], latency["dimensions"]) == (
        "AWS/ApplicationELB",
        "TargetResponseTime",
        edge,
    )
    assert (latency["extendedStatistic"], latency["evaluateLowSampleCountPercentiles"]) == ("p99", "ignore")
    assert "statistic" not in latency
    assert (latency["threshold"], latency["comparisonOperator"]) == (3.5, "GreaterThanThreshold")  # p99LatencySeconds
    assert (latency["period"], latency["evaluationPeriods"], latency["datapointsToAlarm"]) == (60.0, 5.0, 5.0)


def test_too_few_tasks_reads_container_insights_of_the_service(tuned: ProgramRun) -> None:
    alarm = alarms(tuned)["running-tasks"]
    dimensions = {
        "ClusterName": output(tuned, "registry-service-cluster", "name"),
        "ServiceName": output(tuned, "registry-service-service", "name"),
    }
    assert (alarm["namespace"], alarm["metricName"], alarm["dimensions"]) == (
        "ECS/ContainerInsights",
        "RunningTaskCount",
        dimensions,
    )
    assert (alarm["statistic"], alarm["threshold"], alarm["comparisonOperator"]) == (
        "Maximum",
        3.0,
        "LessThanThreshold",
    )
    assert (alarm["period"], alarm["evaluationPeriods"], alarm["datapointsToAlarm"]) == (60.0, 5.0, 5.0)
    assert alarm["treatMissingData"] == "breaching"  # no task running reports no count
    # and Container Insights is on, in production only: dev has no such metric, so no such alarm
    settings = plain(tuned.named("registry-service-cluster"))["settings"]
    assert settings == [{"name": "containerInsights", "value": "enabled"}]


def test_evictions_sum_over_every_node_of_the_replication_group(tuned: ProgramRun) -> None:
    alarm = alarms(tuned)["cache-evictions"]
    nodes = sorted(tuned.named("registry-cache-redis").outputs["memberClusters"])
    assert len(nodes) == 2
    queries = {q["id"]: q for q in alarm["metricQueries"]}
    for k, node in enumerate(nodes):
        assert queries[f"node{k}"]["metric"] == {
            "namespace": "AWS/ElastiCache",
            "metricName": "Evictions",
            "dimensions": {"CacheClusterId": node},
            "stat": "Sum",
            "period": 300.0,
        }
    assert queries["evictions"]["expression"] == "FILL(node0, 0) + FILL(node1, 0)"
    assert (alarm["threshold"], alarm["comparisonOperator"]) == (0.0, "GreaterThanThreshold")
    assert (alarm["evaluationPeriods"], alarm["datapointsToAlarm"], alarm["treatMissingData"]) == (
        3.0,
        3.0,
        "notBreaching",
    )


def test_gc_failures_read_the_scheduled_state_machine(tuned: ProgramRun) -> None:
    alarm = alarms(tuned)["gc-failed"]
    machine = output(tuned, "registry-maintenance-gc")
    queries = {q["id"]: q for q in alarm["metricQueries"]}
    for query_id, metric in (("failed", "ExecutionsFailed"), ("timedout", "ExecutionsTimedOut")):
        assert queries[query_id]["metric"] == {
            "namespace": "AWS/States",
            "metricName": metric,
            "dimensions": {"StateMachineArn": machine},
            "stat": "Sum",
            "period": 300.0,
        }
    assert queries["failures"]["expression"] == "FILL(failed, 0) + FILL(timedout, 0)"
    assert (alarm["threshold"], alarm["comparisonOperator"]) == (1.0, "GreaterThanOrEqualToThreshold")
    assert alarm["evaluationPeriods"] == 1.0


def test_which_alarms_each_stack_has(prod: ProgramRun, dev: ProgramRun, glob: ProgramRun) -> None:
    # prod schedules no gc; dev runs no Container Insights; a secondary has no cache and collects no garbage
    assert set(alarms(prod)) == {"5xx-rate", "no-healthy-hosts", "p99-latency", "running-tasks", "cache-evictions"}
    assert set(alarms(dev)) == {"5xx-rate", "no-healthy-hosts", "p99-latency", "cache-evictions"}
    assert alarms(prod)["5xx-rate"]["threshold"] == 5.0 and alarms(prod)["p99-latency"]["threshold"] == 2.0
    for region in ("us-east-1", "ap-southeast-1"):
        found = alarms(glob, f"registry-{region}-observability-")
        assert set(found) == {"5xx-rate", "no-healthy-hosts", "p99-latency", "running-tasks"}
        topic = output(glob, f"registry-{region}-observability-alerts")
        assert all(
            a["alarmActions"] == [topic] and a["name"].startswith(f"registry-global-{region}-") for a in found.values()
        )


# ---------------------------------------------------------------- dashboard, queries, outputs


def test_the_dashboard_shows_this_stacks_resources(tuned: ProgramRun) -> None:
    dashboard = plain(tuned.named("registry-observability-dashboard"))
    assert dashboard["dashboardName"] == "registry-prod-eu-west-1"
    widgets = {w["properties"]["title"]: w for w in json.loads(dashboard["dashboardBody"])["widgets"]}
    alarm_arns = [r.outputs["arn"] for r in tuned.of_type(ALARM) if r.name.startswith("registry-observability-")]
    assert sorted(widgets["Alarms"]["properties"]["alarms"]) == sorted(alarm_arns) and len(alarm_arns) == 6
    lb = suffix(tuned, "registry-lb-alb")
    assert widgets["Requests"]["properties"]["metrics"][0][:4] == [
        "AWS/ApplicationELB",
        "RequestCount",
        "LoadBalancer",
        lb,
    ]
    bucket = tuned.named("registry-storage-bucket").outputs["bucket"]
    assert widgets["Bucket size (bytes, daily)"]["properties"]["metrics"][0][3] == bucket
    nodes = sorted(tuned.named("registry-cache-redis").outputs["memberClusters"])
    cache = widgets["Blob-descriptor cache (Redis)"]["properties"]["metrics"]
    assert sorted({m[3] for m in cache}) == nodes
    gc = widgets["Scheduled garbage collection (runs a day)"]["properties"]["metrics"]
    assert {m[3] for m in gc} == {output(tuned, "registry-maintenance-gc")}
    service = widgets["Registry tasks: CPU and memory (% of the task size)"]["properties"]["metrics"][0]
    assert service[3] == output(tuned, "registry-service-cluster", "name")
    assert {w["properties"].get("region") for w in widgets.values() if w["type"] == "metric"} == {"eu-west-1"}


def test_saved_queries_read_the_edge_audit_fields_from_the_stacks_log_group(prod: ProgramRun) -> None:
    log_group = output(prod, "registry-service-logs", "name")
    saved = {plain(q)["name"]: plain(q) for q in prod.of_type("aws:cloudwatch/queryDefinition:QueryDefinition")}
    assert set(saved) == {f"registry-prod/{title}" for title in QUERIES}
    for query in saved.values():
        assert query["logGroupNames"] == [log_group]
        assert r"@logStream like /^edge\//" in query["queryString"]  # the edge container's streams only
    text = {name.split("/", 1)[1]: q["queryString"] for name, q in saved.items()}
    assert text["who deleted what"].startswith("fields time, user, client, repository, reference\n")
    assert 'method = "DELETE" and status = 202' in text["who deleted what"]
    assert 'status = 401 and user != ""' in text["failed logins by address"]
    assert "stats count(*) as failures, latest(time) as last by client, user" in text["failed logins by address"]
    assert "status = 403" in text["denied by access rules"]
    assert "sort duration desc" in text["slowest requests"]
    assert 'method = "PUT" and status = 201' in text["pushes by user"]
    # a tag never holds ':' (a digest does, or %3A where a client escaped an upload's ?digest=)
    assert "reference not like /:|%3[Aa]/" in text["pushes by user"]
    assert "by user, repository" in text["pushes by user"]


def test_queries_name_only_fields_the_audit_line_has() -> None:
    words = {w for query in QUERIES.values() for w in _identifiers(query)}
    keywords = {"fields", "filter", "and", "sort", "desc", "limit", "stats", "count", "as", "by", "like", "not"}
    functions = {"latest", "ispresent", "failures", "last", "pushes"}  # functions and the stats' own names
    assert words - keywords - functions == set(AUDIT_FIELDS) - {"agent"}
    audit = pytest.importorskip("components.renderers.audit")
    assert tuple(audit.AUDIT_FIELDS) == AUDIT_FIELDS  # the fields the edge writes, in its order


def _identifiers(query: str) -> set[str]:
    without = re.sub(r'"[^"]*"|/(?:\\/|[^/])*/|@\w+|\d+', " ", query)
    return set(re.findall(r"[a-z_]+", without))


def test_the_outputs_say_where_to_look(tuned: ProgramRun, glob: ProgramRun) -> None:
    assert tuned.outputs["dashboardUrl"] == (
        "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards:name=registry-prod-eu-west-1"
    )
    assert tuned.outputs["alertTopicArn"] == output(tuned, "registry-observability-alerts")
    assert tuned.outputs["logQueries"] == [f"registry-prod/{title}" for title in QUERIES]
    secondary = glob.outputs["regions"]["secondaries"][0]
    assert secondary["dashboardUrl"].endswith("#dashboards:name=registry-global-us-east-1")
    assert secondary["alertTopicArn"] == output(glob, "registry-us-east-1-observability-alerts")


# ---------------------------------------------------------------- WAF


def test_production_load_balancer_is_behind_waf(prod: ProgramRun, dev: ProgramRun) -> None:
    acl = prod.named("registry-waf-acl")
    association = plain(prod.named("registry-waf-association"))
    assert association == {
        "resourceArn": output(prod, "registry-lb-alb"),
        "webAclArn": acl.outputs["arn"],
    }
    inputs = plain(acl)
    assert (inputs["name"], inputs["scope"], inputs["defaultAction"]) == (
        "registry-prod-eu-west-1",
        "REGIONAL",
        {"allow": {}},
    )
    assert (
        dev.of_type("aws:wafv2/webAcl:WebAcl") == []
        and dev.of_type("aws:wafv2/webAclAssociation:WebAclAssociation") == []
    )


def test_waf_rate_limits_per_address_and_blocks_known_bad_inputs_but_never_a_layer(prod: ProgramRun) -> None:
    rules = {r["name"]: r for r in plain(prod.named("registry-waf-acl"))["rules"]}
    assert [(name, r["priority"]) for name, r in rules.items()] == [
        ("unauthenticated-per-address", 0.0),
        ("requests-per-address", 1.0),
        ("known-bad-inputs", 2.0),
    ]
    unauthenticated = rules["unauthenticated-per-address"]["statement"]["rateBasedStatement"]
    assert (unauthenticated["aggregateKeyType"], unauthenticated["limit"], unauthenticated["evaluationWindowSec"]) == (
        "IP",
        float(UNAUTHENTICATED_LIMIT),
        300.0,
    )
    assert unauthenticated["scopeDownStatement"] == {
        "notStatement": {
            "statement": {
                "sizeConstraintStatement": {
                    "fieldToMatch": {"singleHeader": {"name": "authorization"}},
                    "comparisonOperator": "GT",
                    "size": 0.0,
                    "textTransformations": [{"priority": 0.0, "type": "NONE"}],
                }
            }
        }
    }
    every = rules["requests-per-address"]["statement"]["rateBasedStatement"]
    assert every == {"aggregateKeyType": "IP", "limit": float(REQUESTS_LIMIT), "evaluationWindowSec": 300.0}
    for name in ("unauthenticated-per-address", "requests-per-address"):
        assert rules[name]["action"] == {"block": {}}
    bad = rules["known-bad-inputs"]
    assert bad["overrideAction"] == {"none": {}}
    group = bad["statement"]["managedRuleGroupStatement"]
    assert (group["vendorName"], group["name"]) == ("AWS", "AWSManagedRulesKnownBadInputsRuleSet")
    # the rules that read the body (layer bytes) count, never block; no group with a body size limit
    assert group["ruleActionOverrides"] == [{"name": r, "actionToUse": {"count": {}}} for r in BODY_RULES]
    assert set(BODY_RULES) == {"JavaDeserializationRCE_BODY", "Log4JRCE_BODY"}
    assert "AWSManagedRulesCommonRuleSet" not in json.dumps(plain(prod.named("registry-waf-acl")))
    for name, rule in rules.items():
        assert rule["visibilityConfig"]["metricName"] == f"registry-prod-eu-west-1-{name}"


def test_anonymous_mirror_pulls_keep_the_unauthenticated_limit_out() -> None:
    names = [r["name"] for r in web_acl_rules("m", anonymous_pulls=True)]
    assert names == ["requests-per-address", "known-bad-inputs"]
    assert [r["priority"] for r in web_acl_rules("m", anonymous_pulls=True)] == [0, 1]


def test_waf_logs_only_what_it_blocked_without_the_authorization_header(prod: ProgramRun) -> None:
    group = prod.named("registry-waf-logs")
    assert plain(group)["name"] == "aws-waf-logs-registry-prod-eu-west-1"  # WAF's required prefix
    logging = plain(prod.named("registry-waf-logging"))
    assert logging["resourceArn"] == output(prod, "registry-waf-acl")
    assert logging["logDestinationConfigs"] == [group.outputs["arn"]]
    assert logging["redactedFields"] == [{"singleHeader": {"name": "authorization"}}]
    assert logging["loggingFilter"] == {
        "defaultBehavior": "DROP",
        "filters": [
            {"behavior": "KEEP", "requirement": "MEETS_ANY", "conditions": [{"actionCondition": {"action": "BLOCK"}}]}
        ],
    }


# ---------------------------------------------------------------- the cache's key


def test_the_cache_keeps_elasticaches_key_unless_asked(prod: ProgramRun) -> None:
    # a key on an existing replication group replaces it: shipped stacks keep theirs
    assert "kmsKeyId" not in plain(prod.named("registry-cache-redis"))
    assert "registry-cache-key" not in {k.name for k in prod.of_type("aws:kms/key:Key")}


def test_cache_customer_key_encrypts_the_cache_through_elasticache_only(tuned: ProgramRun) -> None:
    key = tuned.named("registry-cache-key")
    assert plain(tuned.named("registry-cache-redis"))["kmsKeyId"] == key.outputs["arn"]
    assert plain(tuned.named("registry-cache-redis"))["atRestEncryptionEnabled"] is True
    assert key.protect is True and plain(key)["enableKeyRotation"] is True
    policy = statements(key.inputs["policy"])
    assert set(policy) == {"AccountAdministersTheKey", "UseOnlyThroughElasticache"}
    through = policy["UseOnlyThroughElasticache"]
    assert through["Principal"] == {"AWS": ROOT_PRINCIPAL}
    assert "kms:CreateGrant" in through["Action"] and "kms:Decrypt" in through["Action"]
    assert through["Condition"] == {
        "StringEquals": {"kms:ViaService": "elasticache.eu-west-1.amazonaws.com", "kms:CallerAccount": ACCOUNT}
    }
