"""Numbers spelled in Italian: a transduction small enough to learn on a CPU in minutes.

"347" -> "trecentoquarantasette". The spelling follows a handful of rules with exceptions
(ventuno, not ventiuno; centottanta; ventitré with its accent; mille but duemila), so a model
that spells numbers it never saw has learnt the rules, not a table. Every number below 10 000
with its spelling, one "digits TAB words" line each, is the corpus `numeri`: the pairs the
bundled encoder–decoder (`attento train --preset numeri`) learns from.
"""

from __future__ import annotations

UNITS = ["zero", "uno", "due", "tre", "quattro", "cinque", "sei", "sette", "otto", "nove"]
TEENS = [
    *("dieci", "undici", "dodici", "tredici", "quattordici"),
    *("quindici", "sedici", "diciassette", "diciotto", "diciannove"),
]
TENS = [
    *("", "", "venti", "trenta", "quaranta"),
    *("cinquanta", "sessanta", "settanta", "ottanta", "novanta"),
]
LIMIT = 10_000  # the numbers of the corpus: 0 .. LIMIT - 1


def below_100(n: int) -> str:
    if n < 10:
        return UNITS[n]
    if n < 20:
        return TEENS[n - 10]
    tens, unit = TENS[n // 10], n % 10
    if unit in (1, 8):  # venti + uno -> ventuno, trenta + otto -> trentotto
        tens = tens[:-1]
    return tens + (UNITS[unit] if unit else "")


def below_1000(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    head = "" if hundreds == 0 else "cento" if hundreds == 1 else UNITS[hundreds] + "cento"
    if rest == 0:
        return head
    tail = below_100(rest)
    if head and tail.startswith("o"):  # cento + ottanta -> centottanta
        head = head[:-1]
    return head + tail


def italian(n: int) -> str:
    """The Italian spelling of 0 <= n < 10 000, in one word as Italian writes numbers."""
    if not 0 <= n < LIMIT:
        raise ValueError(f"spells 0 to {LIMIT - 1}, not {n}")
    if n == 0:
        return "zero"
    thousands, rest = divmod(n, 1000)
    head = "" if thousands == 0 else "mille" if thousands == 1 else below_1000(thousands) + "mila"
    word = head + (below_1000(rest) if rest else "")
    if n > 3 and n % 10 == 3 and n % 100 != 13:  # ventitré, centotré, milletré
        word = word[:-3] + "tré"
    return word


def pairs_text() -> str:
    """The corpus `numeri`: "digits TAB words" for every number below 10 000, one a line."""
    return "".join(f"{n}\t{italian(n)}\n" for n in range(LIMIT))
