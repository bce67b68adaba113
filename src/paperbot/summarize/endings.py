"""Sentence endings to the formal "~니다." style, changing no word of the content.

Models write correct Korean in other registers: the plain style (``소개한다.``, ``있다.``), the note style that
ends on a nominalised verb (``제안함.``, ``한계가 있음.``, ``성능을 높임``) or on a noun (``…프레임워크 도입``).
All of them say the same thing as ``~니다.``; rejecting them threw good answers away. :func:`to_formal` rewrites
the ending only.

With Kiwi (the ``korean`` extra) the sentence is analysed into morphemes, the final ending (EF/ETN) is swapped
for ``ㅂ니다`` and the verb is rejoined by Kiwi, which knows the irregular verbs (``어려움`` → ``어렵습니다``).
Without it a rule table covers the common endings by syllable arithmetic (``함`` → ``합니다``, ``있음`` →
``있습니다``, ``한다`` → ``합니다``), with exceptions for nouns that only look like endings (``실험``, ``포함``).
A noun at the end becomes ``~합니다`` when it is a verbal noun used as a predicate (``…를 도입`` → ``도입합니다``),
otherwise ``~입니다`` (``…위한 연구`` → ``연구입니다``). Anything else is left alone for the gate to judge.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from paperbot import korean
from paperbot.summarize.text import wordset

_HANGUL_BASE = 0xAC00
_JONG_COUNT = 28
_JONG_N = 4  # ᆫ
_JONG_L = 8  # ᆯ
_JONG_LM = 10  # ᆱ
_JONG_M = 16  # ᆷ
_JONG_B = 17  # ᆸ

#: Verbal nouns that take 하다 (Sino-Korean, the common ones of research writing). A noun ending a note-style
#: sentence becomes "~합니다" when it is one of these (or ends in 화, "최적화") and is used as a predicate.
HADA_NOUNS = wordset(
    """
    가속 감소 강조 강화 개발 개선 개척 개선 검증 검토 검색 결합 결정 계산 고려 공개 공유 관찰 구성 구축 구현
    규명 극복 기대 기록 기여 기술 달성 담당 대응 대체 도달 도입 도출 도움 동작 등장 마련 모색 모델링 묘사 반영
    발견 발전 발표 방지 배포 변환 보고 보완 보장 보존 보정 보존 복원 부여 분류 분리 분석 비교 사용 산출 생성
    선별 선택 설계 설명 설정 성공 소개 수렴 수립 수집 수정 수행 시도 시사 식별 실증 실패 실현 실험 압축 연결 연구
    예측 완화 요구 요약 운영 유도 유지 응용 의존 이해 인식 입증 입력 작동 작성 재구성 저장 적용 적응 전달 전환
    정렬 정의 정제 제거 제공 제시 제안 제어 제작 조사 조정 조절 존재 주장 증가 증명 증진 지원 지적 진행 집중 차지
    처리 초과 촉진 최소화 추가 추론 추적 추정 추천 추출 출시 측정 탐구 탐색 탐지 토론 통합 투입 파악 평가 포착
    표현 학습 할당 해결 해석 향상 확대 확보 확인 확장 활용 회복 획득 훈련 감지 개편 검출 공식화 구별 구분
    대비 도전 모방 변경 병합 수용 연동 완성 요청 유발 이용 일반화 재현 전개 제한 조합 증강 참조
    채택 초래 축소 출력 충족 탑재 통제 판단 판별 포함 표시 합성 협력 형성 혼합 특화 모델링 파인튜닝
    """
)
#: Nouns that take 하다 as an adjective ("가능하다"): as a predicate they want a subject (처리가 가능합니다).
HADA_ADJECTIVES = wordset(
    """
    가능 불가능 필요 불필요 중요 유용 우수 동일 유사 상이 용이 적합 충분 부족 취약 명확 정확 강건 견고 간단 복잡
    다양 단순 효율 효과적 유효 유리 불리 중요 독특 유일 안정 불안정 일관 적절 뛰어남
    """
)
#: Hangul words that end like a nominalised verb but are nouns (실험 is not 실허+ㅁ).
_NOUNS_ENDING_LIKE_VERBS = wordset(
    """
    포함 결함 함께 실험 경험 위험 시험 모험 보험 체험 잡음 소음 발음 녹음 화음 책임 신임 지침 방침 아침 알림 마음 느낌
    이름 그림 처음 다음 기쁨 믿음 죽음 걸음 웃음 물음 모임 움직임 흐름 여름 구름 삶 꿈 힘 몸 점 장점 단점 강점 약점
    이점 관점 시점 초점 지점 문제점 한계점 차이점 쟁점 정점 중점 거점 도움 어려움 수렴 시스템 알고리즘 플랫폼 패러다임
    메커니즘 프레임 스트림 프로그램 팀 게임 타임 줌 룸 프롬프트엔지니어링
    """
)
#: Stems before 음 (있음, 없음, 높음…) and before 다 (있다…) that end in a consonant: they take 습니다.
_SEUP_STEMS = wordset(
    "있 없 같 높 낮 많 좋 않 받 얻 찾 읽 넓 작 적 늦 깊 맞 놓 넣 남 였 었 았 했 겠 됐 줬 왔 졌 갔 냈 켰 쳤 났 섰 웠 갖 좁 짧 옳 싫 괜찮 넘"
)
#: Final syllables of a nominalised verb (the ᆷ is the ending): 함 → 합니다, 됨 → 됩니다, 보임 → 보입니다…
_M_ENDINGS = wordset("함 됨 임 짐 킴 냄 앰 줌 룸 봄 옴 둠 춤 침 림 섬 뜀")
#: Endings a Hangul word may have that mean it is not a noun (a sentence that stops on them is not complete).
_NOT_NOUN_ENDINGS = re.compile(
    r"(?:을|를|은|는|이|가|에|에서|으로|로|와|과|며|고|여|서|면|게|지|해|도록|위해|통해|대해|및|등의|의)$"
)
#: Nouns the rule table keeps as nouns although they end like a particle (결과, 효과, 성과…).
_NOUNS_ENDING_LIKE_PARTICLES = wordset(
    "결과 성과 효과 교과 분과 사과 정도 속도 밀도 강도 온도 각도 제도 의도 시도 태도 주도 정이 차이 나이 사이 높이 길이 깊이 넓이 이야기 프로세서 아키텍처 파이프라인 가이드 모델 레이어 인코더 디코더 토크나이저"
)
_ADNOMINAL_END = re.compile(r"(?:한|는|된|던|할|될|인|적인|운|은|의|위한|대한|통한|같은|새로운)$")

_VERBAL_STEM_TAGS = ("VV", "VA", "VX", "VCP", "VCN", "XSV", "XSA")
_NOUN_TAGS = ("NNG", "NNP", "NNB", "NR", "NP", "SL", "SN", "SH", "XSN", "XR")
_kiwi_lock = threading.Lock()


def _jong(syllable: str) -> int | None:
    code = ord(syllable) - _HANGUL_BASE
    if not 0 <= code < 11172:
        return None
    return code % _JONG_COUNT


def _with_jong(syllable: str, jong: int) -> str:
    code = ord(syllable) - _HANGUL_BASE
    return chr(_HANGUL_BASE + code - code % _JONG_COUNT + jong)


def _add_b_nida(syllable: str) -> str:
    """A vowel-final verb syllable + ㅂ니다: 하 → 합니다, 보이 → 보입니다."""
    return _with_jong(syllable, _JONG_B) + "니다"


def _is_hada_noun(word: str) -> bool:
    return word in HADA_NOUNS or (len(word) >= 2 and word.endswith("화"))


#: Latin letters whose Korean name ends in a consonant (엘, 엠, 엔, 알): "LLM을", but "GPT를".
_LATIN_CONSONANT_FINAL = re.compile(r"(?:[LMNR]|[a-z]*(?:l|m|n|ng))$")
_DIGIT_CONSONANT_FINAL = "013678"  # 영 일 삼 육 칠 팔


def particle(word: str, with_final: str, without_final: str) -> str:
    """The particle form that fits after ``word`` (을/를, 이/가): Hangul by its last syllable, Latin and digits by
    how Korean reads them."""
    last = word.rstrip(")]").strip()[-1:] if word.strip() else ""
    if not last:
        return without_final
    jong = _jong(last)
    if jong is not None:
        return with_final if jong else without_final
    if last.isdigit():
        return with_final if last in _DIGIT_CONSONANT_FINAL else without_final
    if _LATIN_CONSONANT_FINAL.search(word.rstrip(")]")):
        return with_final
    return without_final


#: What the word before a final noun is: a modifier ("위한 연구"), a bare noun ("방법 개발") or anything else.
ADNOMINAL, NOUN, OTHER = "adnominal", "noun", "other"


def _noun_predicate(body: str, previous_kind: str) -> str:
    """``body`` ending on a noun, made a "~니다." sentence.

    A verbal noun as the predicate takes 합니다, and the bare noun before it becomes its object (``방법 개발`` →
    ``방법을 개발합니다``); an adjectival one takes a subject (``처리 가능`` → ``처리가 가능합니다``); a noun that a
    modifier governs (``…위한 연구``) and every other noun take 입니다.
    """
    head, _, last_word = body.rpartition(" ")
    noun = re.sub(r"^.*[^\uac00-\ud7a3]", "", last_word)  # the Hangul tail of "SCOPE도입" or "(MoE)도입"
    verbal, adjectival = noun and _is_hada_noun(noun), noun in HADA_ADJECTIVES
    if not (verbal or adjectival) or previous_kind == ADNOMINAL or noun != last_word:
        return f"{body}입니다."
    if previous_kind == NOUN and head:
        pair = ("을", "를") if verbal else ("이", "가")
        return f"{head}{particle(head, *pair)} {last_word}합니다."
    return f"{body}합니다."


def _rule_previous_kind(previous: str) -> str:
    if not previous:
        return OTHER
    if re.search(r"[A-Za-z0-9)]$", previous):
        return NOUN
    if _ADNOMINAL_END.search(previous):
        return ADNOMINAL
    if previous in _NOUNS_ENDING_LIKE_PARTICLES or previous in HADA_NOUNS:
        return NOUN
    if _NOT_NOUN_ENDINGS.search(previous) or previous.endswith("다"):
        return OTHER
    return NOUN


def _rule_verb(body: str) -> str | None:
    """The rule table for a sentence ending on a verb form (no Kiwi): ``…함`` / ``…있다`` / ``…한다``."""
    last = body[-1]
    word = body.rsplit(maxsplit=1)[-1]
    if word in _NOUNS_ENDING_LIKE_VERBS:
        return None
    if last == "임" and len(word) >= 2:
        return body[:-1] + "입니다"  # the copula 이 + ㅁ, after any noun: "GPT임", "수준임", "효과적임"
    if re.search(r"[^\uac00-\ud7a3]", word[-2:] if len(word) >= 2 else word):
        return None
    if last == "다" and len(body) >= 2:
        before = body[-2]
        jong = _jong(before)
        if jong is None:
            return None
        if body.endswith("는다") and len(body) >= 3 and _jong(body[-3]):
            return body[:-2] + "습니다"  # 얻는다 → 얻습니다
        if jong == 0:
            return body[:-2] + _add_b_nida(before)  # 뛰어나다 → 뛰어납니다, 이다 → 입니다
        if jong == _JONG_N:
            return body[:-2] + _add_b_nida(_with_jong(before, 0))  # 한다 → 합니다, 만든다 → 만듭니다
        if jong == _JONG_L:
            return body[:-2] + _add_b_nida(_with_jong(before, 0))  # 길다 → 깁니다
        return body[:-1] + "습니다"  # 있다, 했다, 어렵다 → …습니다
    if last == "음" and len(body) >= 2 and body[-2] in _SEUP_STEMS:
        return body[:-1] + "습니다"  # 있음 → 있습니다
    jong = _jong(last)
    if jong == _JONG_LM:
        return body[:-1] + _add_b_nida(_with_jong(last, 0))  # 만듦 → 만듭니다
    if jong == _JONG_M and last in _M_ENDINGS:
        return body[:-1] + _add_b_nida(_with_jong(last, 0))  # 함 → 합니다, 보임 → 보입니다
    return None


def _rule_noun(body: str) -> str | None:
    words = body.split()
    last_word = words[-1]
    previous = words[-2] if len(words) >= 2 else ""
    tail = re.sub(r"^.*[^\uac00-\ud7a3]", "", last_word)
    if not tail:
        # Ends on Latin letters, digits or a closing bracket: "…GPT-4o 대비 2배" is a noun phrase, "…(SFT)" too.
        return f"{body}입니다." if re.search(r"[A-Za-z0-9%)]$", body) else None
    known = tail in _NOUNS_ENDING_LIKE_PARTICLES or tail in _NOUNS_ENDING_LIKE_VERBS or _is_hada_noun(tail)
    if not known and (_NOT_NOUN_ENDINGS.search(tail) or tail.endswith("다") or tail in HADA_ADJECTIVES):
        return None if tail not in HADA_ADJECTIVES else _noun_predicate(body, _rule_previous_kind(previous))
    return _noun_predicate(body, _rule_previous_kind(previous))


def _kiwi_formal(body: str, kiwi: Any) -> str | None:
    with _kiwi_lock:  # one analysis at a time: the summariser calls this from worker threads
        tokens = list(kiwi.tokenize(body))
    if not tokens:
        return None
    last = tokens[-1]
    if last.start + last.len != len(body):
        return None
    final_ending = last.tag in ("EF", "ETN") or (last.tag == "EC" and last.form in ("다", "ᆫ다", "는다", "음", "ᆷ"))
    if final_ending:
        stem = len(tokens) - 2
        while stem >= 0 and tokens[stem].tag == "EP":
            stem -= 1
        if stem < 0 or not tokens[stem].tag.startswith(_VERBAL_STEM_TAGS):
            return None
        morphs = [(token.form, token.tag.split("-")[0]) for token in tokens[stem:-1]]
        with _kiwi_lock:
            joined: str = kiwi.join([*morphs, ("ᆸ니다", "EF")])
        if not joined.endswith("니다"):
            return None
        return body[: tokens[stem].start] + joined + "."
    if last.tag.startswith(_NOUN_TAGS):
        word_start = body.rfind(" ") + 1
        if not all(token.tag.startswith(_NOUN_TAGS) for token in tokens if token.start >= word_start):
            return None
        before = [token for token in tokens if token.start + token.len <= word_start]
        kind = OTHER
        if before and before[-1].tag in ("ETM", "JKG"):
            kind = ADNOMINAL  # "…위한 연구", "…성능의 향상": a noun phrase, not a predicate
        elif before and (before[-1].tag.startswith(_NOUN_TAGS) or before[-1].tag == "SSC"):
            kind = NOUN
        return _noun_predicate(body, kind)
    return None


def _unambiguous_nominal_ending(body: str) -> bool:
    """``…함``, ``…됨``, ``…있음``: the note style's commonest endings, which the rule table conjugates as well as
    Kiwi does (Kiwi is kept for ``다`` endings, nouns and irregular verbs, where analysis matters)."""
    last = body[-1]
    word = body.rsplit(maxsplit=1)[-1]
    if word in _NOUNS_ENDING_LIKE_VERBS:
        return False
    return last in _M_ENDINGS or (last == "음" and len(body) >= 2 and body[-2] in _SEUP_STEMS)


def _formal_body(body: str, kiwi: Any | None) -> str | None:
    if body.endswith("니다"):
        return body + "."
    if _unambiguous_nominal_ending(body) and (verb := _rule_verb(body)) is not None:
        return verb + "."
    if kiwi is not None:
        converted = _kiwi_formal(body, kiwi)
        if converted is not None:
            return converted
    if re.search(r"[\uac00-\ud7a3]$", body):
        verb = _rule_verb(body)
        if verb is not None:
            return verb + "."
    return _rule_noun(body)


_TRAILING_GLOSS_RE = re.compile(r"^(?P<head>.*[\uac00-\ud7a3])\s?\((?P<gloss>[^()\uac00-\ud7a3]{1,60})\)$")


def _formal_sentence(sentence: str, kiwi: Any | None) -> str | None:
    body = sentence.rstrip(" .。!,;:")
    if not body or not re.search(r"[\uac00-\ud7a3]", body):
        return None
    gloss = _TRAILING_GLOSS_RE.match(body)
    if gloss is None:
        return _formal_body(body, kiwi)
    # "…벤치마크(BLINK)": the gloss belongs to the noun and stays; "…도입함(PRID)": after a verb it belongs to
    # nothing the sentence can keep in place, and it only repeats a name's spelling, so it goes.
    head = gloss["head"]
    converted = _formal_body(head, kiwi)
    if converted is None:
        return None
    if converted.startswith(head) and converted[len(head) :] in ("입니다.", "합니다."):
        return f"{body}{converted[len(head) :]}"
    return converted


_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?。])\s+(?=\S)")
DEFAULT: Any = object()


def to_formal(text: str, *, kiwi: Any = DEFAULT) -> str:
    """``text`` with each sentence ending in "~니다." where a rule applies; unchanged otherwise.

    ``kiwi``: the analyser to use (default: Kiwi when installed; ``None`` forces the rule table).
    """
    analyser = korean.kiwi() if kiwi is DEFAULT else kiwi
    sentences = _SENTENCE_SPLIT_RE.split(text.strip())
    converted = []
    for sentence in sentences:
        formal = _formal_sentence(sentence, analyser)
        converted.append(formal if formal is not None else sentence)
    return " ".join(converted)
