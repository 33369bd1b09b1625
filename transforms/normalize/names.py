"""Name rules: repair the text, unify tone placement, drop titles, fix the order, derive folded keys.

Word-level rules run once per distinct word of the night's names (explode, evaluate, join back), so
they stay vectorised and cheap. Diacritics are handled in NFD form, where a Vietnamese letter is a base letter, an optional quality mark
(circumflex, breve, horn) and an optional tone mark: moving a tone is then a regex over code points.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import polars as pl

from transforms.normalize.text import (
    EAGER_ENGINE,
    clean_unicode,
    collapse_spaces,
    fold,
    fold_key,
    is_placeholder,
    repair_mojibake,
)

TONE = "[\u0300\u0301\u0303\u0309\u0323]"  # huyền, sắc, ngã, hỏi, nặng
QUALITY = "[\u0302\u0306\u031b]"  # circumflex (â ê ô), breve (ă), horn (ơ ư)
VOWEL = "[aeiouy]"
# "qu" and "gi" before a vowel are onsets; masking them keeps their u/i out of the nucleus.
QU_MASK, GI_MASK, TONE_SLOT = "\ue000", "\ue001", "\ue0ff"
ONSET = f"[bcdđghklmnpqrstvx{QU_MASK}{GI_MASK}]*"
CODA = "(?:ch|ng|nh|[cmnpt])"
# One Vietnamese syllable without its tone, in lowercase NFD.
SYLLABLE = f"^(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdđghklmnprstvx])?(?:{VOWEL}{QUALITY}?){{1,3}}{CODA}?$"

TELEX_VOWELS = {
    "uwow": "u\u031bo\u031b",
    "uow": "u\u031bo\u031b",
    "uwo": "u\u031bo\u031b",
    "aw": "a\u0306",
    "aa": "a\u0302",
    "ee": "e\u0302",
    "oo": "o\u0302",
    "ow": "o\u031b",
    "uw": "u\u031b",
    "w": "u\u031b",
}
TELEX_TONES = {"s": "\u0301", "f": "\u0300", "r": "\u0309", "x": "\u0303", "j": "\u0323"}
VNI_LETTERS = {
    "u7o7": "u\u031bo\u031b",
    "uo7": "u\u031bo\u031b",
    "d9": "đ",
    "a8": "a\u0306",
    "a6": "a\u0302",
    "e6": "e\u0302",
    "o6": "o\u0302",
    "o7": "o\u031b",
    "u7": "u\u031b",
}
VNI_TONES = {"1": "\u0301", "2": "\u0300", "3": "\u0309", "4": "\u0303", "5": "\u0323"}

# Forms of address written before a name (lowercase). Several are also names or surnames (Anh, Ông,
# and without diacritics Chu, Châu, Cù), so a title is dropped only when a known surname follows it,
# and an unaccented one only when it is not itself a surname.
TITLES: tuple[str, ...] = (
    "bà", "ông", "cháu", "anh", "chị", "em", "bé", "cô", "chú", "bác", "cụ", "mr", "mrs", "ms", "miss",
)  # fmt: skip


def _mapped(expr: pl.Expr, table: dict[str, str]) -> pl.Expr:
    return expr.str.replace_many(list(table), list(table.values()), leftmost=True)


def _tone_marks(keys: pl.Expr, table: dict[str, str]) -> pl.Expr:
    return keys.replace_strict(list(table), list(table.values()), default=None, return_dtype=pl.String)


def place_tone(word: pl.Expr) -> pl.Expr:
    """Put a syllable's tone mark on the vowel the traditional rule gives (lowercase NFD, masked qu/gi).

    The registry writes the traditional style (hòa, thủy, quý), so Hoà/Thuỷ/Qúy become Hòa/Thủy/Quý:
    a vowel with a quality mark takes the tone (the last one: ươ -> ơ); else the last vowel before a
    final consonant; else the middle of three vowels; else the first of two.
    """
    tone = word.str.extract(f"({TONE})", 1)
    bare = word.str.replace_all(TONE, "")
    slot = f"${{1}}{TONE_SLOT}${{2}}"
    positioned = (
        pl.when(bare.str.contains(f"^{ONSET}(?:{VOWEL}{QUALITY}?)*{VOWEL}{QUALITY}+{VOWEL}*{CODA}?$"))
        .then(bare.str.replace(f"^({ONSET}(?:{VOWEL}{QUALITY}?)*{VOWEL}{QUALITY}+)(.*)$", slot))
        .when(bare.str.contains(f"^{ONSET}{VOWEL}{{1,3}}{CODA}$"))
        .then(bare.str.replace(f"^({ONSET}{VOWEL}+)({CODA})$", slot))
        .when(bare.str.contains(f"^{ONSET}{VOWEL}{{3}}$"))
        .then(bare.str.replace(f"^({ONSET}{VOWEL}{{2}})({VOWEL})$", slot))
        .when(bare.str.contains(f"^{ONSET}{VOWEL}{{1,2}}$"))
        .then(bare.str.replace(f"^({ONSET}{VOWEL})({VOWEL}?)$", slot))
    )
    return (
        pl.when(tone.is_not_null() & positioned.is_not_null())
        .then(positioned.str.replace(TONE_SLOT, tone, literal=True))
        .otherwise(word)
    )


def decode_telex(word: pl.Expr) -> pl.Expr:
    """A lowercase ASCII word typed in Telex, decoded to NFD ("nguyeenx" -> nguyên + tilde); else null."""
    letters = _mapped(word.str.replace(r"^dd", "đ"), TELEX_VOWELS)
    tone_key = letters.str.extract(r"^[^aeiouy]*[aeiouy][^sfrxjz]*([sfrxjz])", 1)
    bare = letters.str.replace(r"^([^aeiouy]*[aeiouy][^sfrxjz]*)[sfrxjz]", "${1}")
    typed_keys = (letters != word) | tone_key.is_not_null()
    is_telex = word.str.contains(r"^[a-z]+$") & typed_keys & bare.str.contains(SYLLABLE)
    return pl.when(is_telex).then(bare + _tone_marks(tone_key, TELEX_TONES).fill_null(""))


def decode_vni(word: pl.Expr) -> pl.Expr:
    """A lowercase word typed in VNI, decoded to NFD ("nguye64n" -> nguyên + tilde); else null.

    The tone key may come before the letter's mark key ("lo56c", "vie56t": Lộc, Việt), so the tone
    digit is taken out before the letters are read."""
    tone_key = word.str.extract(r"([1-5])", 1)
    bare = _mapped(word.str.replace(r"[1-5]", ""), VNI_LETTERS)
    is_vni = word.str.contains(r"^[a-z][a-z0-9]*[1-9][a-z0-9]*$") & bare.str.contains(SYLLABLE)
    return pl.when(is_vni).then(bare + _tone_marks(tone_key, VNI_TONES).fill_null(""))


def keystrokes_dropped(word: pl.Expr) -> pl.Expr:
    """A word that is no syllable even decoded (a typo on top of the keystrokes: "hngf", "bichhs"),
    written with its marked letters and without its tone keys: hng, bichh. Used only in a name whose
    other words show the keystrokes, so that the typo stays one letter from the registry's word."""
    vni = _mapped(word, VNI_LETTERS).str.replace_all(r"[0-9]", "")
    telex = _mapped(word.str.replace(r"^dd", "đ"), TELEX_VOWELS).str.replace(r"(\S)[sfrxj]+$", "${1}")
    return pl.when(word.str.contains(r"[0-9]")).then(vni).otherwise(telex)


def _mask_onsets(word: pl.Expr) -> pl.Expr:
    return word.str.replace(r"^qu", QU_MASK).str.replace(f"^gi({TONE}?{VOWEL})", f"{GI_MASK}${{1}}")


def _unmask_onsets(word: pl.Expr) -> pl.Expr:
    return word.str.replace_many([QU_MASK, GI_MASK], ["qu", "gi"])


def prepare_name_text(name: pl.Expr) -> pl.Expr:
    """Lowercase name text before the word repairs: mojibake undone, NFC, look-alikes, spacing,
    parenthesised notes and separators removed (digits stay: VNI keystrokes need them)."""
    text = clean_unicode(repair_mojibake(name)).str.to_lowercase().str.replace_all(r"[’ʼ`]", "'")
    return collapse_spaces(text.str.replace_all(r"\([^)]*\)", " ").str.replace_all(r"[,;:/_.]", " "))


def tidy_name_text(name: pl.Expr) -> pl.Expr:
    """Only letters, apostrophes and hyphens left, single spaces. A digit left inside a word (a VNI key
    that did not decode) is dropped, not made a space: "bu2i" is bui, not "bu i"."""
    letters = name.str.replace_all(r"(\p{L})[0-9]+", "${1}")
    return collapse_spaces(letters.str.replace_all(r"[^\p{L}\p{M}' -]", " ").str.replace_all(r" ?- ?", "-"))


def word_forms(words: pl.Series) -> pl.DataFrame:
    """For each word (lowercase NFD): is_readable (a Vietnamese syllable as typed, or once decoded),
    typed_form (keystrokes decoded, tone placed), plain_form (tone placed only) and keyed_form (the
    form in a name typed with keystrokes: typed_form, or keystrokes_dropped for an unreadable word).
    One rule per step, each reading the previous step's column."""
    word = pl.col("word")
    return (
        pl.DataFrame({"word": words})
        .with_columns(pl.coalesce(decode_telex(word), decode_vni(word)).alias("decoded"))
        .with_columns(
            (pl.col("decoded").is_not_null() | word.str.replace_all(TONE, "").str.contains(SYLLABLE)).alias(
                "is_readable"
            ),
            _mask_onsets(pl.coalesce("decoded", word)).alias("typed_form"),
            _mask_onsets(word).alias("plain_form"),
        )
        .with_columns(place_tone(pl.col("typed_form")), place_tone(pl.col("plain_form")))
        .with_columns(_unmask_onsets(pl.col("typed_form")), _unmask_onsets(pl.col("plain_form")))
        .with_columns(
            pl.when(pl.col("is_readable"))
            .then(pl.col("typed_form"))
            .otherwise(keystrokes_dropped(word))
            .alias("keyed_form")
        )
        .drop("decoded")
    )


def _padded(names: pl.Series) -> pl.Series:
    """Every word wrapped in its own pair of spaces, so word-for-word replacement cannot overlap."""
    return "  " + names.str.replace_all(" ", "  ") + "  "


def _replace_words(names: pl.Series, old: list[str], new: list[str]) -> pl.Series:
    """`names` (single-spaced, trimmed: as prepare_name_text leaves them) with each word in `old`
    replaced by its `new` word. Only names holding one of the words as text are rewritten: a registry's
    138k names share ~230 words, and a handful of them change (rewriting every name cost ~0.1 CPU s)."""
    rows = _rows_holding_text(names, old)
    if rows.len() == 0:
        return names
    padded = _padded(names.gather(rows))
    replaced = padded.str.replace_many([f" {word} " for word in old], [f" {word} " for word in new])
    return names.clone().scatter(rows, replaced.str.replace_all(" +", " ").str.strip_chars())


def _rows_holding_text(names: pl.Series, texts: list[str]) -> pl.Series:
    """Positions of the names holding one of `texts` anywhere (a cheap superset of holding it as a word)."""
    if not texts:
        return pl.Series(dtype=pl.get_index_type())
    return names.str.contains_any(texts).fill_null(False).arg_true()


def _contains_any_word(names: pl.Series, words: list[str]) -> pl.Series:
    holds_word = pl.repeat(False, len(names), eager=True)
    rows = _rows_holding_text(names, words)
    if rows.len() == 0:
        return holds_word
    in_words = _padded(names.gather(rows)).str.contains_any([f" {word} " for word in words]).fill_null(False)
    return holds_word.scatter(rows, in_words)


def _count_words_in(names: pl.Series, words: list[str]) -> pl.Series:
    return names.str.split(" ").list.eval(pl.element().is_in(words)).list.sum().fill_null(0)


def repair_name_series(names: pl.Series) -> pl.Series:
    """Prepared names (lowercase) with tone placement unified and Telex/VNI keystrokes decoded.

    The word rules run once per DISTINCT word; names are then rewritten word for word with one
    Aho-Corasick pass. Keystrokes are decoded in names whose every word is then a Vietnamese syllable,
    so foreign names ("Lee James") are left alone, and in names where at least two words show
    keystrokes, whose one unreadable word is a typo ("Traanf Vawn Hngf" -> trần văn hng)."""
    decomposed = names.str.normalize("NFD")
    words = decomposed.str.split(" ").explode().drop_nulls().unique()
    words = words.filter(words != "")
    forms = word_forms(words)
    placed = forms.filter(pl.col("plain_form") != pl.col("word"))
    result = _replace_words(decomposed, placed["word"].to_list(), placed["plain_form"].to_list())
    typed = forms.filter(pl.col("typed_form") != pl.col("plain_form"))
    if typed.height:
        keystroke_words = typed.filter(pl.col("is_readable"))["word"].to_list()
        count_with_keystrokes = _count_words_in(decomposed, keystroke_words)
        all_readable = ~_contains_any_word(decomposed, forms.filter(~pl.col("is_readable"))["word"].to_list())
        is_typed = (count_with_keystrokes >= 1) & all_readable | (count_with_keystrokes >= 2)
        rewritten = forms.filter(pl.col("keyed_form") != pl.col("word"))
        decoded = _replace_words(decomposed, rewritten["word"].to_list(), rewritten["keyed_form"].to_list())
        result = decoded.zip_with(is_typed, result)
    return result.str.normalize("NFC").alias(names.name)


def repaired_names(texts: pl.LazyFrame, column: str, out: str) -> pl.LazyFrame:
    """(`column`, `out`) for each distinct value of `column`: prepared (lowercase), keystrokes decoded,
    tone placement unified, stray symbols removed. The distinct prepared texts are collected and
    rewritten eagerly here, before the plan that joins them back runs: the rewrite runs queries of its
    own, and no query may run inside another query's callback (map_batches)."""
    prepared = (
        texts.select(pl.col(column))
        .unique()
        .with_columns(prepare_name_text(pl.col(column)).alias("prepared"))
        .collect(engine=EAGER_ENGINE)
    )
    distinct = prepared.select("prepared").unique().drop_nulls()
    repaired = distinct.select(
        pl.col("prepared").cast(pl.String),
        repair_name_series(distinct["prepared"].cast(pl.String)).alias(out),
    )
    return (
        prepared.lazy()
        .join(repaired.lazy(), on="prepared", how="left")
        .select(column, tidy_name_text(pl.col(out)).alias(out))
    )


FOLDED_TITLES = [
    "ba",
    "ong",
    "chau",
    "anh",
    "chi",
    "em",
    "be",
    "co",
    "chu",
    "bac",
    "cu",
    "mr",
    "mrs",
    "ms",
    "miss",
]


# Titles that are also common given names: "Anh Nguyễn Văn" is Nguyễn Văn Anh typed given-name first.
NAME_LIKE_TITLES = ("anh",)
# Middle names that are never given names: a name ending in one lacks its given name.
# Marked, only Văn and Thị; typed without marks, "van" is as often Vân (Nguyen Thi Van), so it counts as a
# middle word only when no middle word comes before it ("Ong Nguyen Van").
MIDDLE_ONLY_WORDS = ("văn", "thị")
MIDDLE_ONLY_KEYS = ("van", "thi")


def strip_titles(name: pl.Expr, surnames: Collection[str]) -> pl.Expr:
    """Drop a leading form of address (Bà, Ông, Cháu, Anh...) when it is in a title's position and the
    rest still forms a full name; a title alone leaves nothing. `name` is lowercase; `surnames` folded.

    - Title position: a known surname follows it, or (given name first) comes one word later:
      "Cháu Phong Bùi Đức".
    - A full name: two words or more, not ending in a middle-only word (Văn, Thị; unmarked "van" or
      "thi" only right after the surname, as "Nguyen Thi Van" is Vân); three or more after
      a title that is also a given name, so "Anh Nguyễn Văn" and "Anh Đỗ Quốc" keep their Anh.
    - Typed without diacritics, a title that is also a surname (Chau, Ong) goes only before three words
      and a surname: "Chau Le Gia Thao" is Lê Gia Thảo, "Chu Hoang Phuc" is Chu Hoàng Phúc."""
    words = name.str.split(" ")
    first = words.list.first()
    folded_first = fold(first)
    rest_length = words.list.len() - 1
    # Unaccented, a title can be a surname too (Chau: Cháu or Châu): a title only before three words.
    typed_plain = first == folded_first
    is_title = first.is_in(TITLES) | (
        folded_first.is_in(FOLDED_TITLES)
        & (~folded_first.is_in(list(surnames)) | (typed_plain & (rest_length >= 3)))
    )
    folded_second, folded_third = (fold(words.list.get(i, null_on_oob=True)) for i in (1, 2))
    in_title_position = folded_second.is_in(list(surnames)) | (
        (rest_length >= 3) & folded_third.is_in(list(surnames))
    )
    min_rest = pl.when(folded_first.is_in(NAME_LIKE_TITLES)).then(3).otherwise(2)
    last = words.list.last()
    ends_in_middle_word = last.is_in(MIDDLE_ONLY_WORDS) | (
        (last == fold(last)) & last.is_in(MIDDLE_ONLY_KEYS) & (rest_length < 3)
    )
    rest_is_full_name = (rest_length >= min_rest) & ~ends_in_middle_word
    return (
        pl.when(is_title & in_title_position.fill_null(False) & rest_is_full_name)
        .then(name.str.replace(r"^\S+ ", ""))
        .when(name.is_in(TITLES))
        .then(pl.lit(""))  # a title alone is no name
        .otherwise(name)
    )


def starts_with_title(name: pl.Expr) -> pl.Expr:
    """Whether the first word is a form of address, marked or not: strip_titles changes no other name."""
    first = name.str.split(" ").list.first()
    return first.is_in(TITLES) | fold(first).is_in(FOLDED_TITLES)


def with_titles_stripped(frame: pl.LazyFrame, column: str, surnames: Collection[str]) -> pl.LazyFrame:
    """strip_titles on `column`, run on the names that start with a title only. The rule reads its
    words many times in one expression, and polars evaluates each read again: on the medium night's
    45k names it cost 0.2 CPU s, on its ~2k titled ones a fraction of that (name_lookup with this step
    and with_given_first_swapped: 0.85 -> 0.62 CPU s, one thread)."""
    titled = pl.col("_titled")
    return (
        frame.with_columns(pl.when(starts_with_title(pl.col(column))).then(pl.col(column)).alias("_titled"))
        .with_columns(
            pl.when(titled.is_not_null()).then(strip_titles(titled, surnames)).otherwise(column).alias(column)
        )
        .drop("_titled")
    )


@dataclass(frozen=True)
class SurnameStatistics:
    """How often a word is a surname (first word) rather than a given name (last word) in the registry.

    `by_spelling` is keyed by the lowercase word as written (Lý and Ly differ), `by_key` by the folded
    word (for text typed without diacritics). Values: share of uses as a surname."""

    by_spelling: dict[str, float]
    by_key: dict[str, float]

    def share(self, word: pl.Expr) -> pl.Expr:
        """The surname share of a lowercase word: by spelling when it has diacritics, else by key."""

        def lookup(keys: pl.Expr, table: dict[str, float]) -> pl.Expr:
            return keys.replace_strict(
                list(table), list(table.values()), default=None, return_dtype=pl.Float64
            )

        has_diacritics = word.str.contains(r"[^\x00-\x7f]")
        # An ASCII word's folded key is the word in lowercase: fold's letter table and mark removal
        # touch only other characters, and they were a third of the name order rule's time.
        return (
            pl.when(has_diacritics)
            .then(lookup(word, self.by_spelling))
            .otherwise(lookup(word.str.to_lowercase(), self.by_key))
        )

    def surnames(self, min_share: float) -> set[str]:
        return {word for word, share in self.by_key.items() if share >= min_share}


def swap_given_first(
    name: pl.Expr, statistics: SurnameStatistics, min_share: float = 0.75, max_rotated_share: float = 0.05
) -> pl.Expr:
    """Put a name written given-name first back in Vietnamese order. `name` is lowercase.

    - Family and given swapped ("minh văn đinh"): the first word is rarely a surname (share below
      1 - min_share, or unseen) and the last nearly always one (share at least min_share); they swap.
    - Given name moved to the front ("hùng nguyễn văn"): the first word is almost never a surname
      (share at most max_rotated_share: Hà, a surname one time in four, stays first in "Hà Kim
      Tuyết"), the second nearly always one and the last not; the first word moves to the end."""
    shares = [statistics.share(word) for word in order_words(name)]
    return given_first_swapped(name, *shares, min_share=min_share, max_rotated_share=max_rotated_share)


def order_words(name: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """The first, second (of three or more) and last word that swap_given_first weighs."""
    first, last = name.str.extract(r"^(\S+) ", 1), name.str.extract(r" (\S+)$", 1)
    return first, name.str.extract(r"^\S+ (\S+) \S", 1), last


def given_first_swapped(
    name: pl.Expr,
    first_share: pl.Expr,
    second_share: pl.Expr,
    last_share: pl.Expr,
    *,
    min_share: float = 0.75,
    max_rotated_share: float = 0.05,
) -> pl.Expr:
    """swap_given_first from the surname shares of the name's order_words."""
    first_share = first_share.fill_null(0.0)
    is_swapped = (first_share < 1 - min_share) & (last_share >= min_share)
    is_rotated = (
        (first_share <= max_rotated_share)
        & (second_share >= min_share)
        & (last_share.fill_null(0.0) < min_share)
    )
    return (
        pl.when(is_swapped)
        .then(name.str.replace(r"^(\S+)(.*) (\S+)$", "${3}${2} ${1}"))
        .when(is_rotated)
        .then(name.str.replace(r"^(\S+) (.*)$", "${2} ${1}"))
        .otherwise(name)
    )


def with_given_first_swapped(frame: pl.LazyFrame, column: str, statistics: SurnameStatistics) -> pl.LazyFrame:
    """swap_given_first on `column`, its words and their shares each computed once: in one expression
    polars computes them again for each read."""
    share_columns = ["_first_share", "_second_share", "_last_share"]
    words = order_words(pl.col(column))
    return (
        frame.with_columns(
            statistics.share(word).alias(share) for word, share in zip(words, share_columns, strict=True)
        )
        .with_columns(
            given_first_swapped(pl.col(column), *(pl.col(share) for share in share_columns)).alias(column)
        )
        .drop(share_columns)
    )


def title_case(name: pl.Expr) -> pl.Expr:
    """Title case; null for an empty name (title casing leaves a name empty only when it was: tested on
    `name`, so that the costly casing runs once)."""
    return pl.when(name == "").then(None).otherwise(name.str.to_titlecase())


def full_name_lookup(
    texts: pl.LazyFrame,
    column: str,
    *,
    surnames: Collection[str],
    surname_statistics: SurnameStatistics | None = None,
    out: str = "full_name_clean",
) -> pl.LazyFrame:
    """(`column`, `out`) per distinct raw name: repaired, titles dropped, Vietnamese order, title
    case; null when nothing is left."""
    # One rule per step: each reads the previous step's column, never a nested expression.
    name = pl.col(out)
    repaired = (
        repaired_names(texts, column, out)
        .with_columns(
            pl.when(is_placeholder(pl.col(column)))
            .then(None)
            .otherwise(name)
            .alias(out)  # "chưa có": no name
        )
        .collect(engine=EAGER_ENGINE)
    )
    # The rules below read the repaired name only: once per distinct one (a night's 68k raw names repair
    # to 45k, written in other cases, spacings or tone placements).
    cleaned = repaired.lazy().select(pl.col(out).alias("_repaired"), name).unique()
    cleaned = with_titles_stripped(cleaned, out, surnames)
    if surname_statistics is not None:
        cleaned = with_given_first_swapped(cleaned, out, surname_statistics)
    cleaned = cleaned.with_columns(title_case(name).alias(out))
    return (
        repaired.lazy()
        .rename({out: "_repaired"})
        .join(cleaned, on="_repaired", how="left", nulls_equal=True, maintain_order="left")
        .drop("_repaired")
    )


def name_key(clean_name: pl.Expr) -> pl.Expr:
    """Folded name: lowercase ASCII, no diacritics, single spaces (đ -> d)."""
    return fold_key(clean_name)


def marked_name_key(clean_name: pl.Expr) -> pl.Expr:
    """The cleaned name in lowercase NFC, diacritics kept: Hòa and Hoa share a name_key, not this key.

    Tone placement is already unified by the cleaning (Hoà -> Hòa), so two spellings of one name agree."""
    return collapse_spaces(clean_name.str.normalize("NFC").str.to_lowercase())


def family_name_key(key: pl.Expr) -> pl.Expr:
    """The first word."""
    return key.str.extract(r"^(\S+)", 1)


def given_name_key(key: pl.Expr) -> pl.Expr:
    """The last word (the first too, for a one-word name)."""
    return key.str.extract(r"(\S+)$", 1)


def middle_name_key(key: pl.Expr) -> pl.Expr:
    """The words between the family and given name; "" when there are none."""
    return pl.when(key.is_not_null()).then(key.str.extract(r"^\S+ (.+) \S+$", 1).fill_null(""))


def with_name_keys(frame: pl.LazyFrame, clean_name: str) -> pl.LazyFrame:
    """Add name_key, family_name_key, middle_name_key, given_name_key from a cleaned-name column."""
    key = pl.col("name_key")
    return frame.with_columns(name_key(pl.col(clean_name)).alias("name_key")).with_columns(
        family_name_key(key).alias("family_name_key"),
        middle_name_key(key).alias("middle_name_key"),
        given_name_key(key).alias("given_name_key"),
    )


def name_uses(registry_names: pl.LazyFrame) -> pl.LazyFrame:
    """(full_name, uses) per distinct full_name (null included): how many rows carry it."""
    return registry_names.group_by("full_name").agg(pl.len().alias("uses"))


def surname_statistics(
    registry_names: pl.LazyFrame,
    *,
    min_uses: int = 3,
    repaired: pl.DataFrame | None = None,
    name_counts: pl.DataFrame | None = None,
) -> SurnameStatistics:
    """Surname shares of the registry's words used at least `min_uses` times as a surname or given
    name. Input: a frame with a `full_name` column; repaired: its (full_name, name_clean) per distinct
    name (repaired_names), when already built; name_counts: its (full_name, uses) per distinct name
    (how many citizens are so named), when already counted (then registry_names is not read again).

    Counted per distinct name and then per distinct word, each weighted by how often it occurs: the
    same sums as counting every citizen's words (integer sums, so the shares are the same floats)."""
    if repaired is None:
        repaired = repaired_names(registry_names.select("full_name"), "full_name", "name_clean").collect(
            engine=EAGER_ENGINE
        )
    counts = (
        name_uses(registry_names) if name_counts is None else name_counts.lazy().select("full_name", "uses")
    )
    words = counts.join(repaired.lazy(), on="full_name", how="left", nulls_equal=True)
    words = words.select(pl.col("name_clean").str.split(" ").alias("words"), "uses").filter(
        pl.col("words").list.len() >= 2
    )
    uses = (
        pl.concat(
            [
                words.select(
                    pl.col("words").list.first().alias("word"), pl.lit(1).alias("is_family"), "uses"
                ),
                words.select(pl.col("words").list.last().alias("word"), pl.lit(0).alias("is_family"), "uses"),
            ]
        )
        .group_by("word")
        .agg(
            pl.col("uses").sum().alias("count_uses"),
            (pl.col("uses") * pl.col("is_family")).sum().alias("family_uses"),
        )
        .collect()
    )

    def shares(key: pl.Expr) -> dict[str, float]:
        table = (
            uses.group_by(key.alias("key"))
            .agg(pl.col("count_uses").sum(), pl.col("family_uses").sum())
            .filter(pl.col("count_uses") >= min_uses)
            .with_columns((pl.col("family_uses") / pl.col("count_uses")).alias("family_share"))
        )
        return dict(zip(table["key"].to_list(), table["family_share"].to_list(), strict=True))

    return SurnameStatistics(by_spelling=shares(pl.col("word")), by_key=shares(fold(pl.col("word"))))
