"""The hotline's classes as data: topics, request types, urgency levels and conversational intents."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

DEFAULT_TAXONOMY = Path(__file__).resolve().parent / "taxonomy.yaml"
OOS = "oos"
URGENCY_LEVELS = ("emergency", "urgent", "routine")


@dataclass(frozen=True)
class ClassInfo:
    code: str
    zh: str
    en: str
    description: str

    def label(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


@dataclass(frozen=True)
class Taxonomy:
    topics: dict[str, ClassInfo]
    request_types: dict[str, ClassInfo]
    urgency: dict[str, ClassInfo]
    intents: dict[str, ClassInfo]
    out_of_scope: ClassInfo

    @classmethod
    def load(cls, path: Path | None = None) -> Taxonomy:
        path = Path(path) if path else DEFAULT_TAXONOMY
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise FileNotFoundError(
                f"taxonomy file {path} not found; pass a YAML like {DEFAULT_TAXONOMY}"
            ) from e

        def section(name: str) -> dict[str, ClassInfo]:
            items = raw.get(name) or {}
            out = {}
            for code, v in items.items():
                missing = [k for k in ("zh", "en", "description") if not v.get(k)]
                if missing:
                    raise ValueError(f"{path}: class {name}.{code} lacks {', '.join(missing)}")
                out[str(code)] = ClassInfo(str(code), str(v["zh"]), str(v["en"]), str(v["description"]))
            return out

        oos = raw.get("out_of_scope") or {"zh": "非热线业务", "en": "Out of scope", "description": ""}
        taxonomy = cls(
            topics=section("topics"),
            request_types=section("request_types"),
            urgency=section("urgency"),
            intents=section("intents"),
            out_of_scope=ClassInfo(OOS, oos["zh"], oos["en"], oos.get("description", "")),
        )
        if set(taxonomy.urgency) - set(URGENCY_LEVELS):
            raise ValueError(f"{path}: urgency levels must be among {URGENCY_LEVELS}")
        return taxonomy

    def info(self, code: str) -> ClassInfo:
        """Any class by code; unknown codes (a hotline's own labels) get their code as label."""
        for group in (self.topics, self.intents, self.request_types, self.urgency):
            if code in group:
                return group[code]
        if code == OOS:
            return self.out_of_scope
        return ClassInfo(code, code, code, "")

    def to_dict(self) -> dict:
        def dump(group: dict[str, ClassInfo]) -> dict:
            return {k: {"zh": v.zh, "en": v.en, "description": v.description} for k, v in group.items()}

        return {
            "topics": dump(self.topics),
            "request_types": dump(self.request_types),
            "urgency": dump(self.urgency),
            "intents": dump(self.intents),
            "out_of_scope": {
                "zh": self.out_of_scope.zh,
                "en": self.out_of_scope.en,
                "description": self.out_of_scope.description,
            },
        }
