"""Synthetic but realistic knowledge bases of any size, for the search benchmark and scale tests.

A large city's hotline knowledge base is mostly the same few dozen kinds of question asked about
many places: this office's hours, that estate's water shutdown, route N's first bus. The entries
here are built the same way from district, street, estate and route names, with both languages.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from kb.entry import KbEntry

DISTRICTS = [
    ("和平区", "Heping District"), ("河西区", "Hexi District"), ("南开区", "Nankai District"),
    ("河东区", "Hedong District"), ("红桥区", "Hongqiao District"), ("滨海新区", "Binhai New Area"),
    ("东丽区", "Dongli District"), ("西青区", "Xiqing District"), ("津南区", "Jinnan District"),
    ("北辰区", "Beichen District"), ("武清区", "Wuqing District"), ("宝坻区", "Baodi District"),
    ("静海区", "Jinghai District"), ("宁河区", "Ninghe District"), ("蓟州区", "Jizhou District"),
    ("高新区", "High-tech Zone"),
]  # fmt: skip
STREETS = [
    ("人民路", "Renmin Road"), ("解放路", "Jiefang Road"), ("中山路", "Zhongshan Road"),
    ("建设路", "Jianshe Road"), ("胜利街", "Shengli Street"), ("长江道", "Changjiang Avenue"),
    ("黄河路", "Huanghe Road"), ("友谊路", "Youyi Road"), ("幸福街", "Xingfu Street"),
    ("和平路", "Heping Road"), ("新华路", "Xinhua Road"), ("光明街", "Guangming Street"),
    ("复兴路", "Fuxing Road"), ("南京路", "Nanjing Road"), ("卫津路", "Weijin Road"),
    ("红旗路", "Hongqi Road"), ("育才路", "Yucai Road"), ("文化街", "Wenhua Street"),
    ("东风路", "Dongfeng Road"), ("朝阳街", "Chaoyang Street"), ("青年路", "Qingnian Road"),
    ("团结路", "Tuanjie Road"), ("工农路", "Gongnong Road"), ("华山路", "Huashan Road"),
    ("泰山道", "Taishan Avenue"), ("北京路", "Beijing Road"), ("上海道", "Shanghai Avenue"),
    ("广州路", "Guangzhou Road"), ("西湖道", "Xihu Avenue"), ("滨江道", "Binjiang Avenue"),
    ("花园路", "Huayuan Road"), ("学院路", "Xueyuan Road"), ("体育路", "Tiyu Road"),
    ("新港路", "Xingang Road"), ("海河东路", "Haihe East Road"), ("天山路", "Tianshan Road"),
    ("昆仑路", "Kunlun Road"), ("湖滨路", "Hubin Road"), ("金桥街", "Jinqiao Street"),
    ("银河路", "Yinhe Road"),
]  # fmt: skip
ESTATES = [
    ("阳光花园", "Sunshine Garden"), ("金色家园", "Golden Home"), ("翠湖小区", "Cuihu Estate"),
    ("桃园新村", "Taoyuan New Village"), ("紫金苑", "Zijin Court"), ("海景湾", "Seaview Bay"),
    ("锦绣华庭", "Jinxiu Court"), ("龙湖名邸", "Longhu Residence"), ("梅江花园", "Meijiang Garden"),
    ("水岸名居", "Riverside Homes"), ("春华里", "Chunhua Lane"), ("丽景苑", "Lijing Court"),
    ("万科城", "Vanke City"), ("碧水园", "Bishui Garden"), ("怡和家园", "Yihe Home"),
    ("富力城", "Fuli City"), ("融创中心", "Sunac Centre"), ("保利花园", "Poly Garden"),
    ("星河湾", "Star River Bay"), ("御景园", "Yujing Garden"), ("康乐里", "Kangle Lane"),
    ("华苑小区", "Huayuan Estate"), ("天香园", "Tianxiang Garden"), ("绿城花园", "Greentown Garden"),
]  # fmt: skip
PHASES = [("一期", "Phase One"), ("二期", "Phase Two"), ("三期", "Phase Three")]

_TEMPLATES = [
    ("office", "documents", "inquiry",
     "{d}{s}政务服务站几点上班", "What are the opening hours of the {s_en} service office in {d_en}",
     "{d}{s}政务服务站周一到周五上午九点到下午五点办公，中午不休息。节假日另行通知。",
     "The {s_en} service office in {d_en} opens Monday to Friday from nine in the morning to five in "
     "the afternoon, with no lunch break. Holiday hours are announced separately."),
    ("police", "documents", "inquiry",
     "{d}{s}派出所户籍窗口在哪里",
     "Where is the household registration desk of the {s_en} police station in {d_en}",
     "{d}{s}派出所户籍窗口在一楼大厅，工作日上午九点到十二点、下午一点半到五点办理。",
     "The household registration desk of the {s_en} police station in {d_en} is in the ground floor hall. "
     "It is open on working days from nine to twelve and from half past one to five."),
    ("water", "water", "inquiry",
     "{e}这周什么时候停水", "When is the water shut off at {e_en} this week",
     "{e}因为管道检修，计划在星期{n}上午八点到下午四点停水。请提前储水。",
     "Because of pipe works, {e_en} will have no water on day {n} of this week from eight in the "
     "morning to four in the afternoon. Please store some water in advance."),
    ("power", "power", "inquiry",
     "{e}计划停电时间", "Planned power cut at {e_en}",
     "{e}计划在本月{n}号早上七点到中午十二点停电检修线路，请提前做好准备。",
     "{e_en} has a planned power cut on day {n} of this month from seven in the morning to noon "
     "for line maintenance. Please plan ahead."),
    ("light", "roads", "fault",
     "{d}{s}路灯坏了找谁修", "Who fixes broken streetlights on {s_en} in {d_en}",
     "{d}{s}的路灯由区市容园林部门负责维修，我可以帮您登记，一般三天内修好。",
     "Streetlights on {s_en} in {d_en} are repaired by the district city appearance department. "
     "I can log it for you, and it is usually fixed within three days."),
    ("bus", "transport", "inquiry",
     "{n}路公交车首末班是几点", "What time are the first and last buses on route {n}",
     "{n}路公交车首班车早上六点发车，末班车晚上十点发车，高峰期大约十分钟一班。",
     "Route {n} starts at six in the morning and the last bus leaves at ten at night. At peak "
     "times buses come about every ten minutes."),
    ("property", "housing", "inquiry",
     "{e}的物业电话是多少", "How do I contact the property management of {e_en}",
     "{e}的物业服务中心在小区北门旁边，每天早上八点到晚上六点有人值班。您也可以让我帮您转达问题。",
     "The property service centre of {e_en} is next to the north gate and is staffed every day from "
     "eight in the morning to six in the evening. I can also pass your message on."),
    ("clinic", "health", "inquiry",
     "{d}{s}社区卫生服务中心能打疫苗吗",
     "Does the {s_en} community health centre in {d_en} give vaccinations",
     "{d}{s}社区卫生服务中心有预防接种门诊，周二和周四上午开放，请提前预约并带好接种证。",
     "The {s_en} community health centre in {d_en} has a vaccination clinic on Tuesday and Thursday "
     "mornings. Please book ahead and bring the vaccination booklet."),
    ("school", "education", "inquiry",
     "{d}{s}小学的招生范围是哪里", "What is the catchment area of {s_en} Primary School in {d_en}",
     "{d}{s}小学的招生范围每年由区教育局公布，通常包括附近的几个小区，请留意今年的通知。",
     "The catchment area of {s_en} Primary School in {d_en} is published each year by the district "
     "education bureau and usually covers the nearby estates. Please watch for this year's notice."),
    ("rubbish", "environment", "inquiry",
     "{d}{s}的垃圾几点清运", "When is rubbish collected on {s_en} in {d_en}",
     "{d}{s}的生活垃圾每天早上六点和下午四点各清运一次，大件垃圾请提前预约。",
     "Household rubbish on {s_en} in {d_en} is collected every day at six in the morning and four in "
     "the afternoon. Please book ahead for bulky items."),
    ("parking", "roads", "inquiry",
     "{d}{s}路边停车怎么收费", "How much is street parking on {s_en} in {d_en}",
     "{d}{s}路边停车白天第一个小时收费几元，之后按小时累加，晚上收费更低，具体以现场公示为准。",
     "Street parking on {s_en} in {d_en} costs a few yuan for the first hour in the daytime and then "
     "by the hour, with lower rates at night. Please check the signs on site."),
    ("gas", "gas", "inquiry",
     "{e}的燃气归哪个营业厅管", "Which gas service hall looks after {e_en}",
     "{e}的燃气业务由{d}第{n}燃气营业厅办理，营业时间是每天上午八点半到下午五点。",
     "Gas services for {e_en} are handled by gas service hall number {n} of {d_en}, open every day "
     "from half past eight in the morning to five in the afternoon."),
    ("heating", "heating", "inquiry",
     "{e}的暖气归哪个供热站管", "Which heating station serves {e_en}",
     "{e}由{d}第{n}供热站负责供暖，报修可以直接打热线，我也可以帮您登记。",
     "{e_en} is heated by station number {n} of {d_en}. I can log a heating fault for you right away."),
]  # fmt: skip


def _combos(rng: random.Random) -> Iterator[tuple[str, dict[str, str]]]:
    """(id, slot values) for every template and the places it names, in a shuffled but seeded order."""
    combos: list[tuple[str, dict[str, str]]] = []
    for key, _topic, _rtype, q_zh, *_ in _TEMPLATES:
        per_estate = "{e}" in q_zh
        for di, (d, d_en) in enumerate(DISTRICTS):
            for si, (s, s_en) in enumerate(STREETS[:1] if per_estate else STREETS):
                for ei, (e, e_en) in enumerate(ESTATES if per_estate else ESTATES[:1]):
                    for pi, (p, p_en) in enumerate(PHASES if per_estate else PHASES[:1]):
                        n = 1 + di * len(STREETS) + si if key == "bus" else 1 + (di * 7 + ei + pi) % 99
                        slots = {"d": d, "d_en": d_en, "s": s, "s_en": s_en, "e": f"{d}{e}{p}",
                                 "e_en": f"{e_en} {p_en}, {d_en}", "n": str(n)}  # fmt: skip
                        combos.append((f"{key}-{di}-{si}-{ei}-{pi}", slots))
    rng.shuffle(combos)
    yield from combos


def synthetic_entries(n: int, seed: int = 0) -> list[KbEntry]:
    """``n`` distinct bilingual entries (at most a few tens of thousands are possible)."""
    rng = random.Random(seed)
    templates = {t[0]: t for t in _TEMPLATES}
    out: list[KbEntry] = []
    seen: set[str] = set()
    for entry_id, slots in _combos(rng):
        key = entry_id.split("-")[0]
        _, topic, rtype, q_zh, q_en, a_zh, a_en = templates[key]
        question_zh = q_zh.format(**slots)
        if question_zh in seen:  # templates without an estate repeat across estates
            continue
        seen.add(question_zh)
        out.append(
            KbEntry(id=f"syn-{entry_id}", questions=(question_zh, q_en.format(**slots)),
                    answers={"zh": a_zh.format(**slots), "en": a_en.format(**slots)},
                    topic=topic, request_type=rtype, tags=("synthetic",), updated="2026-01-01T00:00:00+00:00")
        )  # fmt: skip
        if len(out) == n:
            return out
    raise ValueError(f"only {len(out)} distinct synthetic entries can be made; ask for fewer")
