"""How much a text reads as Vietnamese: the share of its marked words that are Vietnamese syllables.

A *word* is a run of characters between ASCII spaces, ASCII punctuation and digits, so that every
reading of the same bytes cuts the same words. Words of plain ASCII letters ("Pfizer", "CCCD") read
the same in every encoding and prove nothing; the others (*marked* words) are judged. A marked word
is a Vietnamese syllable when, lowercased and decomposed (NFD),
- it holds at most one tone mark (grave, acute, tilde, hook above, dot below), and that mark sits
  on a vowel (a e i o u y, possibly with its breve, circumflex or horn);
- without its tone, it is an initial consonant (b c ch d đ g gh gi h k kh l m n ng ngh nh p ph q
  qu r s t th tr v x) then a rhyme from the closed list below; the clusters and finals of Central
  Highlands names (Krông Búk, Cư Jút) are accepted too;
- a rhyme closed by p, t, c or ch carries the acute or the dot below (Vietnamese phonotactics);
or it is an abbreviation of consonants with đ ("SĐT", "KXĐ").
Everything runs in one polars query over the distinct words of all readings at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

# ASCII separators: whitespace, punctuation and digits. Everything else (letters of any script,
# C0 bytes some encodings use as letters) belongs to a word.
WORD = r"[^\t\n\x0B\x0C\r !-@\[-`{-~]+"
MARKED = r"[^A-Za-z]"  # a word holding anything but ASCII letters
TONE = "[\u0300\u0301\u0303\u0309\u0323]"  # grave, acute, tilde, hook above, dot below
STOP_TONES = ("\u0301", "\u0323")  # the only tones a syllable closed by p, t, c, ch carries
INITIAL_TABLE = "ngh ng nh ch gh gi kh ph qu th tr b c d đ g h k l m n p q r s t v x"
# Initials of Central Highlands place and personal names (Krông, Prông, Jút, Đliê Ya, HLốp, Djrăng).
MINORITY_INITIAL_TABLE = "chr pr kr br dr đr bl pl gl kl ml hl dl đl sr gr dj km kn kd kb rc bh j z f w"
# Vietnamese rhymes without tone (vần): nucleus (with glide) and final consonant or semivowel.
RHYME_TABLE = """
a ai ao au ay ac ach am an ang anh ap at
ăc ăm ăn ăng ăp ăt
âc âm ân âng âp ât âu ây
e ec em en eng eo ep et
ê êch êm ên êng ênh êp êt êu
i ia ich im in inh ip it iu iêc iêm iên iêng iêp iêt iêu
y yêm yên yêng yêt yêu ynh yt ych
o oa oac oach oai oam oan oang oanh oao oap oat oay oăc oăm oăn oăng oăt oc oe oen oeo oet
oi om on ong op ot oong ooc
ô ôc ôi ôm ôn ông ôp ôt
ơ ơi ơm ơn ơp ơt
u ua uân uâng uât uây uc uê uêch uênh ui um un ung up ut uy uya uych uyên uyêt uyn uynh uyt uyu
uôc uôi uôm uôn uông uôt uơ
ư ưa ưc ưi ưm ưng ưt ưu ươc ươi ươm ươn ương ươp ươt ươu
"""
# ...and their rhymes: a nucleus closed by h, k, l or r (Păh, Búk, Vàl, Xiêr), or an open ă/â (Bă, Yă).
MINORITY_NUCLEI = ("a", "ă", "â", "e", "ê", "i", "o", "ô", "ơ", "u", "ư", "y", "iê", "uô", "ươ")
MINORITY_RHYMES = [nucleus + final for nucleus in MINORITY_NUCLEI for final in ("h", "k", "l", "r")]
INITIALS = sorted([*INITIAL_TABLE.split(), *MINORITY_INITIAL_TABLE.split()], key=len, reverse=True)
RHYMES = sorted({*RHYME_TABLE.split(), *MINORITY_RHYMES, "ă", "â", "ơng"}, key=len, reverse=True)
SYLLABLE = f"^(?:{'|'.join(INITIALS)})?(?:{'|'.join(RHYMES)})$"
ABBREVIATION = "^[bcdđghklmnpqrstvx]{1,5}$"  # no vowel, at least one đ: checked below
TONE_OFF_A_VOWEL = f"(?:^|[^aeiouy\u0302\u0306\u031b]){TONE}"


@dataclass(frozen=True)
class SyllableScore:
    share: float  # valid marked words / marked words (occurrences); 1.0 when there are none
    words: int  # marked word occurrences judged


def is_vietnamese_syllable(word: pl.Expr) -> pl.Expr:
    """Whether each (marked) word is a Vietnamese syllable, or a consonant abbreviation with đ."""
    decomposed = word.str.to_lowercase().str.normalize("NFD")
    toneless = decomposed.str.replace_all(TONE, "").str.normalize("NFC")
    tone = decomposed.str.extract(f"({TONE})")
    closed_by_stop = toneless.str.contains("(?:[ptc]|ch)$")
    syllable = (
        (decomposed.str.count_matches(TONE) <= 1)
        & ~decomposed.str.contains(TONE_OFF_A_VOWEL)
        & toneless.str.contains(SYLLABLE)
        & (~closed_by_stop | tone.is_in(STOP_TONES).fill_null(False))
    )
    abbreviation = toneless.str.contains(ABBREVIATION) & toneless.str.contains("đ")
    return syllable | abbreviation


def marked_words(text: pl.Expr) -> pl.Expr:
    """The marked words of each text, as a list."""
    return text.str.extract_all(WORD).list.eval(pl.element().filter(pl.element().str.contains(MARKED)))


def syllable_scores(readings: Mapping[str, str]) -> dict[str, SyllableScore]:
    """The share of marked words that are Vietnamese syllables, for each reading (label -> text)."""
    labels = list(readings)
    texts = pl.LazyFrame(  # readings by position: grouping by a number costs less than by a label
        {"reading": range(len(labels)), "text": list(readings.values())},
        schema={"reading": pl.UInt32, "text": pl.String},
    )
    # No word spans a line break, and a text's lines repeat (a sample is one marked word a line): the
    # words are cut from each reading's distinct lines, each counted as often as its line occurs.
    lines = (
        texts.select("reading", line=pl.col("text").str.split("\n"))
        .explode("line")
        .group_by("reading", "line")
        .agg(times=pl.len())
    )
    counted = (
        lines.with_columns(word=marked_words(pl.col("line")))
        .explode("word")
        .drop_nulls("word")
        .group_by("reading", "word")
        .agg(occurrences=pl.col("times").sum())
    )
    # Readings share most of their words (several files, or one file's candidate encodings): each
    # distinct word is judged once.
    judged = counted.select("word").unique().with_columns(valid=is_vietnamese_syllable(pl.col("word")))
    scores = (
        counted.join(judged, on="word")
        .group_by("reading")
        .agg(
            words=pl.col("occurrences").sum(),
            valid=pl.col("occurrences").filter(pl.col("valid")).sum(),
        )
        .collect()
    )
    found = {labels[row["reading"]]: row for row in scores.iter_rows(named=True)}
    return {
        label: SyllableScore(found[label]["valid"] / found[label]["words"], found[label]["words"])
        if label in found and found[label]["words"]
        else SyllableScore(1.0, 0)
        for label in readings
    }
