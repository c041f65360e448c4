"""Builds the policy pack. PolicyPack starts the analyzer server and never returns, so the
policies themselves live in the importable `registry_policies` package."""

from pulumi_policy import PolicyPack
from registry_policies import PACK_NAME, POLICIES

PolicyPack(name=PACK_NAME, policies=POLICIES)
