# The deploy library's parsers of outside input (src/deploy): the release extractor (artifact
# bytes) and the journal reader (.baton/journal.jsonl after crashes). Corpora:
# tests/fuzz/corpus/extract/ (archives from tests/fuzz/corpus/make-deploy-seeds: good ones and
# every refusal kind) and tests/fuzz/corpus/journal/ (journals of whole, torn and corrupt deploys).
baton_fuzz_target(extract SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz-extract.c LIBS baton_deploy)
baton_fuzz_target(journal SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz-journal.c LIBS baton_deploy)
