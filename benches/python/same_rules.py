# Python `re` doing less work than triage: the same rule patterns, searched one by one, no
# normalisation, no decision beyond "which rules fire".
import json, re, sys, tomllib
rules = tomllib.load(open(sys.argv[3], "rb"))["rule"]
sub = {"{b}": r"\b", "{q}": "[?？¿؟]", "{start}": r"(?:^|[.!?;…\n])[\W_]*", "{end}": r"(?:$|\W)"}
pats = []
for r in rules:
    for p in r["patterns"]:
        for k, v in sub.items():
            p = p.replace(k, v)
        p = p.replace(r"\p{L}", "a-zA-Z").replace(r"\p{N}", "0-9").replace("(?-u:\\b)", r"\b")
        try:
            pats.append((r["id"], re.compile(p, re.I)))
        except re.error:
            pass
print(len(pats), "patterns", file=sys.stderr)
with open(sys.argv[1], encoding="utf-8") as f, open(sys.argv[2], "w", encoding="utf-8") as out:
    for line in f:
        o = json.loads(line)
        fired = [i for i, p in pats if p.search(o["text"])]
        out.write(json.dumps({"id": o["id"], "rules": fired}) + "\n")
