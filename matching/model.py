"""The declarative Fellegi-Sunter model: comparisons, levels with m/u, blocking rules and thresholds as data.

The model lives in data/reference/matching_model.json. Code holds only what each level *means*
(matching/comparisons.py); which levels a comparison has, their order, their m and u probabilities,
the blocking rules and the decision thresholds come from the file. Each run re-estimates the
parameters and saves the fitted model beside its output, stamped with a fingerprint.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from matching.comparisons import LEVEL_CATALOGUE
from vaxsync.core.reference import reference_path

DEFAULT_MODEL_PATH = reference_path("matching_model.json")

Role = Literal["person", "household"]


@dataclass
class Level:
    label: str
    m: float
    u: float
    # P(level | the row is another member of the candidate's household); person comparisons only.
    u_household: float | None = None

    @property
    def weight(self) -> float:
        """log2(m/u): the evidence the level gives for a match over a random pair."""
        return math.log2(self.m / self.u)


@dataclass
class Comparison:
    name: str
    role: Role
    levels: list[Level]
    # level label -> the record column whose registry frequency replaces u (term-frequency adjustment)
    term_frequency: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        return [level.label for level in self.levels]

    def level(self, label: str) -> Level:
        return self.levels[self.labels.index(label)]


@dataclass
class BlockingRule:
    name: str
    keys: list[str]  # shot record columns; a list-typed one is unnested (several values per shot)
    max_block_size: int  # a registry block above this is split on refine_on, then dropped if still too big
    refine_on: list[str] = field(default_factory=list)
    registry_keys: list[str] | None = None  # registry columns when they differ from the shot's

    @property
    def registry_side_keys(self) -> list[str]:
        return self.registry_keys or self.keys


@dataclass
class Thresholds:
    auto_post_probability: float  # the ceiling: a candidate this probable always posts (other checks passed)
    min_auto_post_probability: float  # the floor: nothing less probable ever posts
    max_expected_wrong_per_10k: float  # the run's error budget, which sets the threshold between the two
    min_weight_margin_bits: float  # the top candidate must beat the runner-up by this many bits
    review_probability: float
    # A link whose only agreement is name and birth date (no phone, ward/district or ID agreeing) posts
    # only when the name parts alone are worth this many bits: a common name is someone else's as often.
    min_name_bits_without_corroboration: float = 0.0


@dataclass
class AgeRules:
    # The youngest vaccinable age is not here: it is the vaccine catalogue's (vaxsync.core.clinical_rules).
    adult_age_years: int
    child_adult_birth_year_tolerance: int


@dataclass
class Prior:
    share_in_registry: float  # EM start: share of rows left by the ID pass whose person is registered
    min_share_in_registry: float  # bounds on the EM estimate (a run with few rows stays sensible)
    max_share_in_registry: float
    blocking_miss_rate: float  # how often a registered person is not among their row's candidates
    household_size: float  # people per household: the unregistered-relative alternatives per candidate
    m_prior_pseudo_count: float  # how many labelled pairs the file's m values are worth
    random_pairs: int
    random_seed: int


@dataclass
class MatchModel:
    name: str
    version: str
    description: str
    prior: Prior
    thresholds: Thresholds
    age_rules: AgeRules
    blocking_rules: list[BlockingRule]
    comparisons: list[Comparison]
    # filled by estimation: sizes and counts the parameters came from
    fitted: dict[str, Any] = field(default_factory=dict)

    def comparison(self, name: str) -> Comparison:
        for comparison in self.comparisons:
            if comparison.name == name:
                return comparison
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["fingerprint"] = self.fingerprint()
        return data

    def fingerprint(self) -> str:
        """sha256 of the parameters (not the fit statistics): two runs with equal fingerprints scored alike."""
        data = asdict(self)
        data.pop("fitted")
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def copy(self) -> MatchModel:
        return copy.deepcopy(self)

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False, default=str) + "\n")
        return path

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MatchModel:
        model = cls(
            name=data["name"],
            version=data["version"],
            description=data.get("description", ""),
            prior=Prior(**data["prior"]),
            thresholds=Thresholds(**data["thresholds"]),
            age_rules=AgeRules(**data["age_rules"]),
            blocking_rules=[BlockingRule(**rule) for rule in data["blocking_rules"]],
            comparisons=[
                Comparison(
                    name=item["name"],
                    role=item["role"],
                    levels=[Level(**level) for level in item["levels"]],
                    term_frequency=item.get("term_frequency", {}),
                    settings=item.get("settings", {}),
                )
                for item in data["comparisons"]
            ],
            fitted=data.get("fitted", {}),
        )
        model.validate()
        return model

    @classmethod
    def load(cls, path: Path = DEFAULT_MODEL_PATH) -> MatchModel:
        return cls.from_dict(json.loads(path.read_text()))

    def validate(self) -> None:
        """Reject a model file that cannot be scored: unknown levels, probabilities out of range."""

        for comparison in self.comparisons:
            known = LEVEL_CATALOGUE.get(comparison.name)
            if known is None:
                raise ValueError(f"model names an unknown comparison: {comparison.name}")
            unknown = set(comparison.labels) - set(known)
            if unknown:
                raise ValueError(f"{comparison.name}: unknown levels {sorted(unknown)}")
            for level in comparison.levels:
                if not (0 < level.m <= 1 and 0 < level.u <= 1):
                    raise ValueError(f"{comparison.name}.{level.label}: m and u must be in (0, 1]")
                if comparison.role == "person" and level.u_household is None:
                    raise ValueError(
                        f"{comparison.name}.{level.label}: a person comparison needs u_household"
                    )
        thresholds = self.thresholds
        if not (
            0
            < thresholds.review_probability
            < thresholds.min_auto_post_probability
            <= thresholds.auto_post_probability
            < 1
        ):
            raise ValueError("thresholds must satisfy 0 < review < auto-post floor <= auto-post ceiling < 1")


def load_model(path: Path | None = None) -> MatchModel:
    return MatchModel.load(path or DEFAULT_MODEL_PATH)
