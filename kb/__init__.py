"""Knowledge base: entries, import/export, hybrid retrieval and calibrated answers."""

from kb.entry import KbEntry, KbEntryError
from kb.formats import KbFormatError, dump_entries, load_entries, save_entries
from kb.knowledge_base import KbAnswer, KbHit, KbOptions, KnowledgeBase, default_kb_path

__all__ = [
    "KbAnswer",
    "KbEntry",
    "KbEntryError",
    "KbFormatError",
    "KbHit",
    "KbOptions",
    "KnowledgeBase",
    "default_kb_path",
    "dump_entries",
    "load_entries",
    "save_entries",
]
