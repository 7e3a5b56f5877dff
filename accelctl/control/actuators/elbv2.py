"""`elbv2`: weighted forward action of an ALB listener's default action or of one listener rule (boto3).

Each unit maps to one target group ARN. `apply` reads the live actions, replaces the forward action's
ForwardConfig.TargetGroups with one entry per mapped unit (0..999; target groups there but not mapped
get 0), keeps its stickiness settings and every other action (e.g. authenticate-oidc before it),
and writes them back with ModifyListener or ModifyRule.
"""

from __future__ import annotations

import copy

from pydantic import Field, model_validator

from accelctl.control.actuators.base import ACTUATORS, Actuator
from accelctl.control.actuators.weights import ALB_MAX_WEIGHT, check_weights, to_units
from accelctl.control.clients import AwsConnection, aws_call, aws_client
from accelctl.errors import AccelctlError, InputError

SOLE_TARGET_WEIGHT = 100  # a forward to one target group (no ForwardConfig) sends it everything


class ElbV2Config(AwsConnection):
    listener_arn: str | None = Field(
        default=None, description="ARN of the listener whose default action carries the weights"
    )
    rule_arn: str | None = Field(
        default=None, description="ARN of the listener rule whose actions carry them (give one of the two)"
    )
    target_groups: dict[str, str] = Field(
        min_length=1,
        description="unit -> target group ARN (target_groups.UNIT=ARN); groups in the action but not "
        "here get weight 0",
    )

    @model_validator(mode="after")
    def _one_target(self) -> ElbV2Config:
        if (self.listener_arn is None) == (self.rule_arn is None):
            raise ValueError("give exactly one of listener_arn and rule_arn")
        return self


def forward_action(actions: list[dict], where: str) -> dict:
    forwards = [a for a in actions if a.get("Type") == "forward"]
    if len(forwards) != 1:
        raise AccelctlError(f"elbv2 {where}: expected one forward action, found {len(forwards)}")
    return forwards[0]


def action_weights(action: dict) -> dict[str, int]:
    groups = action.get("ForwardConfig", {}).get("TargetGroups")
    if groups:
        return {g["TargetGroupArn"]: int(g.get("Weight", 1)) for g in groups}
    return {action["TargetGroupArn"]: SOLE_TARGET_WEIGHT}


def with_weights(actions: list[dict], weights_by_arn: dict[str, int], where: str) -> list[dict]:
    """Actions to write back: the forward action rebuilt, the others as read (writable fields only)."""
    out = []
    for a in copy.deepcopy(actions):
        if a.get("Type") == "forward":
            live = action_weights(a)
            groups = [{"TargetGroupArn": arn, "Weight": w} for arn, w in weights_by_arn.items()]
            groups += [{"TargetGroupArn": arn, "Weight": 0} for arn in live if arn not in weights_by_arn]
            config = {"TargetGroups": groups}
            stickiness = a.get("ForwardConfig", {}).get("TargetGroupStickinessConfig")
            if stickiness:
                config["TargetGroupStickinessConfig"] = stickiness
            # TargetGroupArn and a multi-group ForwardConfig are mutually exclusive in a write.
            a = {k: v for k, v in a.items() if k in ("Type", "Order")} | {"ForwardConfig": config}
        elif a.get("Type") == "authenticate-oidc" and "ClientSecret" not in a.get(
            "AuthenticateOidcConfig", {}
        ):
            a["AuthenticateOidcConfig"]["UseExistingClientSecret"] = True  # Describe never returns the secret
        out.append(a)
    forward_action(out, where)
    return out


@ACTUATORS.register("elbv2")
class ElbV2Actuator(Actuator):
    config_model = ElbV2Config

    def __init__(self, config: ElbV2Config):
        self.config = config
        self._elb = aws_client("elbv2", config)
        self.where = f"listener {config.listener_arn}" if config.listener_arn else f"rule {config.rule_arn}"

    def close(self) -> None:
        self._elb.close()  # botocore clients close their connection pool

    def _actions(self) -> list[dict]:
        c = self.config
        if c.listener_arn:
            resp = aws_call(
                f"describe {self.where}", self._elb.describe_listeners, ListenerArns=[c.listener_arn]
            )
            return resp["Listeners"][0]["DefaultActions"]
        resp = aws_call(f"describe {self.where}", self._elb.describe_rules, RuleArns=[c.rule_arn])
        return resp["Rules"][0]["Actions"]

    def read(self) -> dict[str, int]:
        by_arn = action_weights(forward_action(self._actions(), self.where))
        return to_units(by_arn, self.config.target_groups)

    def apply(self, weights: dict[str, int]) -> None:
        c = self.config
        check_weights(weights, ALB_MAX_WEIGHT, f"elbv2 {self.where}")
        unmapped = sorted(set(weights) - set(c.target_groups))
        if unmapped:
            raise InputError(
                f"elbv2 actuator: field 'target_groups': no target group for unit {unmapped[0]!r}; add it"
            )
        by_arn = {arn: weights.get(unit, 0) for unit, arn in c.target_groups.items()}
        actions = with_weights(self._actions(), by_arn, self.where)
        if c.listener_arn:
            aws_call(
                f"modify {self.where}",
                self._elb.modify_listener,
                ListenerArn=c.listener_arn,
                DefaultActions=actions,
            )
        else:
            aws_call(f"modify {self.where}", self._elb.modify_rule, RuleArn=c.rule_arn, Actions=actions)
