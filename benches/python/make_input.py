# Writes N generated comments as JSON Lines (~85 bytes, mixed English/Spanish/Portuguese with emoji,
# ~15 % product questions) for timing `triage classify` against the Python baselines:
#   python3 benches/python/make_input.py 300000 > /tmp/in.jsonl
#   time target/release/triage classify --input /tmp/in.jsonl --output /tmp/out.jsonl
#   time python3 benches/python/one_alternation.py /tmp/in.jsonl /tmp/py.jsonl
#   time python3 benches/python/same_rules.py /tmp/in.jsonl /tmp/py.jsonl config/rules.toml
import json, random, sys
random.seed(7)
questions = ["how much is it??", "link pls 😍", "¿cuánto cuesta? 🙏", "does it ship to Canada 🇨🇦", "is it vegan?", "my code doesn't work", "qual o valor?", "donde lo compro?"]
others = ["love this so much 😍😍", "omg the glow ✨✨", "so pretty!!", "@anna look at this 😂", "que lindo 💕", "this is everything 🔥🔥", "obsessed with this routine", "me encanta 😍 #ad"]
for i in range(int(sys.argv[1])):
    text = random.choice(questions) if random.random() < 0.15 else random.choice(others)
    text = text + " " + random.choice(others) + " " + str(i % 97)
    print(json.dumps({"id": f"c{i}", "text": text, "extra": 1}, ensure_ascii=False))
