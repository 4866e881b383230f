# SPDX-License-Identifier: MIT
# The deploy library's parsers of outside input (src/deploy): the release extractor (artifact
# bytes), the journal reader (.baton/journal.jsonl after crashes) and pull mode's latest.json
# reader (what an update source serves). Corpora: tests/fuzz/corpus/extract/ (archives from
# tests/fuzz/make-deploy-seeds: good ones and every refusal kind), tests/fuzz/corpus/journal/
# (journals of whole, torn and corrupt deploys) and tests/fuzz/corpus/latest/ (latest.json, good
# and with each member malformed).
baton_fuzz_target(extract SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz-extract.c LIBS baton_deploy)
baton_fuzz_target(journal SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz-journal.c LIBS baton_deploy)
baton_fuzz_target(latest SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz-latest.c LIBS baton_deploy)
