"""An offline CLIP-style BPE tokenizer written by the project, so presets never touch a hub.

CLIP's tokenizer maps bytes to printable unicode characters, marks the last symbol of a word with
`</w>`, and applies merges in rank order. The vocabulary here is every byte (plain and word-final)
plus whole-word merges for a fixed list of words common in image prompts: any text still
tokenizes (byte fallback), listed words become one token. transformers' CLIPTokenizer reads the
files written here in both 4.x and 5.x because they are the classic vocab.json + merges.txt pair.
"""

from __future__ import annotations

import json
from pathlib import Path

from accelctl.files import atomic_write

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
MAX_LENGTH = 77

WORDS = [
    "a",
    "an",
    "the",
    "of",
    "in",
    "on",
    "at",
    "with",
    "and",
    "or",
    "to",
    "from",
    "by",
    "for",
    "over",
    "under",
    "near",
    "above",
    "below",
    "behind",
    "beside",
    "photo",
    "photograph",
    "picture",
    "painting",
    "drawing",
    "sketch",
    "render",
    "illustration",
    "portrait",
    "landscape",
    "closeup",
    "astronaut",
    "horse",
    "cat",
    "dog",
    "bird",
    "fish",
    "dragon",
    "robot",
    "castle",
    "city",
    "street",
    "forest",
    "mountain",
    "river",
    "lake",
    "sea",
    "ocean",
    "beach",
    "desert",
    "island",
    "sky",
    "cloud",
    "clouds",
    "sun",
    "moon",
    "star",
    "stars",
    "night",
    "day",
    "sunset",
    "sunrise",
    "rain",
    "snow",
    "fog",
    "storm",
    "fire",
    "water",
    "tree",
    "trees",
    "flower",
    "flowers",
    "garden",
    "house",
    "road",
    "bridge",
    "tower",
    "car",
    "train",
    "ship",
    "boat",
    "man",
    "woman",
    "child",
    "girl",
    "boy",
    "people",
    "face",
    "eyes",
    "hair",
    "hat",
    "dress",
    "armor",
    "sword",
    "book",
    "table",
    "chair",
    "window",
    "door",
    "red",
    "orange",
    "yellow",
    "green",
    "blue",
    "purple",
    "pink",
    "white",
    "black",
    "gray",
    "grey",
    "gold",
    "silver",
    "brown",
    "colorful",
    "bright",
    "dark",
    "light",
    "soft",
    "sharp",
    "detailed",
    "highly",
    "realistic",
    "photorealistic",
    "cinematic",
    "epic",
    "beautiful",
    "cute",
    "old",
    "new",
    "small",
    "big",
    "large",
    "tiny",
    "huge",
    "ancient",
    "futuristic",
    "magical",
    "fantasy",
    "science",
    "fiction",
    "cyberpunk",
    "steampunk",
    "style",
    "art",
    "digital",
    "oil",
    "watercolor",
    "studio",
    "lighting",
    "shot",
    "lens",
    "wide",
    "angle",
    "bokeh",
    "hdr",
    "masterpiece",
    "quality",
    "high",
    "resolution",
    "trending",
    "artstation",
    "octane",
    "unreal",
    "engine",
    "vintage",
    "minimal",
    "abstract",
    "surreal",
    "riding",
    "sitting",
    "standing",
    "flying",
    "walking",
    "running",
    "holding",
    "wearing",
    "looking",
    "smiling",
]


def bytes_to_unicode() -> dict[int, str]:
    """CLIP's reversible byte -> printable-character table (GPT-2 lineage)."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def vocabulary() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """(token -> id, merges in rank order), the same on every run."""
    chars = list(bytes_to_unicode().values())
    tokens = chars + [c + "</w>" for c in chars]
    merges: list[tuple[str, str]] = []
    seen = set(tokens)
    for word in dict.fromkeys(WORDS):
        symbols = [bytes_to_unicode()[b] for b in word.encode()]
        symbols[-1] += "</w>"
        left = symbols[0]
        for right in symbols[1:]:
            merged = left + right
            if merged not in seen:
                merges.append((left, right))
                tokens.append(merged)
                seen.add(merged)
            left = merged
    tokens += [BOS, EOS]
    return {tok: i for i, tok in enumerate(tokens)}, merges


def vocab_size() -> int:
    return len(vocabulary()[0])


def write_tokenizer(folder: Path | str) -> Path:
    """Write the tokenizer files into `folder` (a diffusers pipeline's tokenizer/ subfolder)."""
    folder = Path(folder)
    vocab, merges = vocabulary()
    atomic_write(folder / "vocab.json", json.dumps(vocab, ensure_ascii=False))
    atomic_write(folder / "merges.txt", "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    config = {
        "tokenizer_class": "CLIPTokenizer",
        "model_max_length": MAX_LENGTH,
        "bos_token": BOS,
        "eos_token": EOS,
        "unk_token": EOS,
        # SD 2.x pads with "!" rather than EOS; keep the same convention.
        "pad_token": "!",
        "do_lower_case": True,
        "clean_up_tokenization_spaces": True,
    }
    atomic_write(folder / "tokenizer_config.json", json.dumps(config, indent=2))
    specials = {k: config[k] for k in ("bos_token", "eos_token", "unk_token", "pad_token")}
    atomic_write(folder / "special_tokens_map.json", json.dumps(specials, indent=2))
    return folder
