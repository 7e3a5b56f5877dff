"""The elbv2 actuator against moto's server (tests/integration/moto_endpoint.py): a real ALB listener
and rule created through the API, reweighted, and read back with Describe*."""

from __future__ import annotations

import pytest
from moto_endpoint import REGION, moto_endpoint

from accelctl.control.actuators import ACTUATORS
from accelctl.errors import InputError

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def alb():
    import boto3

    with moto_endpoint() as url:
        ec2 = boto3.client("ec2", endpoint_url=url, region_name=REGION)
        elb = boto3.client("elbv2", endpoint_url=url, region_name=REGION)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{az}")[
                "Subnet"
            ]["SubnetId"]
            for i, az in ((1, "a"), (2, "b"))
        ]
        lb = elb.create_load_balancer(Name="fleet", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
        tgs = {
            unit: elb.create_target_group(Name=unit, Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip")[
                "TargetGroups"
            ][0]["TargetGroupArn"]
            for unit in ("sd-g5", "sd-inf2", "sd-trn1", "legacy")
        }
        yield url, elb, lb, tgs


def listener(elb, lb, port, actions):
    return elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=port, DefaultActions=actions)[
        "Listeners"
    ][0]


def live(elb, listener_arn):
    return elb.describe_listeners(ListenerArns=[listener_arn])["Listeners"][0]["DefaultActions"]


def test_listener_default_action_reweighted_and_read_back(alb):
    url, elb, lb, tgs = alb
    arn = listener(elb, lb, 8001, [{"Type": "forward", "TargetGroupArn": tgs["sd-g5"]}])["ListenerArn"]
    mapped = {u: tgs[u] for u in ("sd-g5", "sd-inf2", "sd-trn1")}
    act = ACTUATORS.create(
        "elbv2", {"region": REGION, "endpoint_url": url, "listener_arn": arn, "target_groups": mapped}
    )
    assert act.read() == {"sd-g5": 100}  # one target group, no ForwardConfig: it gets everything

    act.apply({"sd-g5": 30, "sd-inf2": 70})

    [action] = live(elb, arn)
    assert action["Type"] == "forward"
    assert {g["TargetGroupArn"]: g["Weight"] for g in action["ForwardConfig"]["TargetGroups"]} == {
        tgs["sd-g5"]: 30,
        tgs["sd-inf2"]: 70,
        tgs["sd-trn1"]: 0,
    }  # a mapped unit left out gets 0
    assert act.read() == {"sd-g5": 30, "sd-inf2": 70, "sd-trn1": 0}


def test_stickiness_kept_and_unmapped_live_group_zeroed(alb):
    url, elb, lb, tgs = alb
    sticky = {"Enabled": True, "DurationSeconds": 300}
    arn = listener(
        elb,
        lb,
        8002,
        [
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": tgs["legacy"], "Weight": 5},
                        {"TargetGroupArn": tgs["sd-g5"], "Weight": 5},
                    ],
                    "TargetGroupStickinessConfig": sticky,
                },
            }
        ],
    )["ListenerArn"]
    act = ACTUATORS.create(
        "elbv2",
        {
            "region": REGION,
            "endpoint_url": url,
            "listener_arn": arn,
            "target_groups": {"sd-g5": tgs["sd-g5"]},
        },
    )
    assert act.read() == {tgs["legacy"]: 5, "sd-g5": 5}  # a group no unit maps to shows as its ARN

    act.apply({"sd-g5": 999})

    [action] = live(elb, arn)
    assert action["ForwardConfig"]["TargetGroupStickinessConfig"] == sticky
    assert act.read() == {tgs["legacy"]: 0, "sd-g5": 999}


def test_listener_rule_reweighted(alb):
    url, elb, lb, tgs = alb
    arn = listener(elb, lb, 8003, [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}])[
        "ListenerArn"
    ]
    rule = elb.create_rule(
        ListenerArn=arn,
        Priority=10,
        Conditions=[{"Field": "path-pattern", "Values": ["/genimage"]}],
        Actions=[{"Type": "forward", "TargetGroupArn": tgs["sd-inf2"]}],
    )["Rules"][0]["RuleArn"]
    act = ACTUATORS.create(
        "elbv2",
        {
            "region": REGION,
            "endpoint_url": url,
            "rule_arn": rule,
            "target_groups": {"sd-inf2": tgs["sd-inf2"], "sd-trn1": tgs["sd-trn1"]},
        },
    )
    act.apply({"sd-inf2": 45, "sd-trn1": 55})
    got = elb.describe_rules(RuleArns=[rule])["Rules"][0]
    assert got["Conditions"][0]["Values"] == ["/genimage"]  # ModifyRule without Conditions keeps them
    assert act.read() == {"sd-inf2": 45, "sd-trn1": 55}
    assert live(elb, arn)[0]["Type"] == "fixed-response"  # the listener's default action is untouched


def test_unmapped_unit_and_bad_weights_write_nothing(alb):
    url, elb, lb, tgs = alb
    arn = listener(elb, lb, 8004, [{"Type": "forward", "TargetGroupArn": tgs["sd-g5"]}])["ListenerArn"]
    act = ACTUATORS.create(
        "elbv2",
        {
            "region": REGION,
            "endpoint_url": url,
            "listener_arn": arn,
            "target_groups": {"sd-g5": tgs["sd-g5"]},
        },
    )
    with pytest.raises(InputError, match="no target group for unit 'sd-x'"):
        act.apply({"sd-g5": 50, "sd-x": 50})
    with pytest.raises(InputError, match="0..999"):
        act.apply({"sd-g5": 1000})
    assert live(elb, arn) == [{"Type": "forward", "TargetGroupArn": tgs["sd-g5"]}]


def test_exactly_one_of_listener_and_rule():
    with pytest.raises(InputError, match="exactly one of listener_arn and rule_arn"):
        ACTUATORS.create("elbv2", {"region": REGION, "target_groups": {"a": "arn:x"}})
