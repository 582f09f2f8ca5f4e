# Quality gate: runs `supportbot eval --json` on a labelled data set with default settings and fails
# when a figure falls below its floor. Skipped (exit 77) when ../shared/data is not beside the
# project. Arguments: CLI, DATA (folder with faqs.json and dev.jsonl), and MIN_<key> floors.
# Or FAQS and QUERIES naming the files directly.
if(DEFINED DATA)
  set(FAQS ${DATA}/faqs.json)
  set(QUERIES ${DATA}/dev.jsonl)
endif()
if(NOT EXISTS "${FAQS}" OR NOT EXISTS "${QUERIES}")
  message("data set ${FAQS} / ${QUERIES} not found: skipped")
  cmake_language(EXIT 77)
endif()
execute_process(COMMAND ${CLI} eval --faqs ${FAQS} --queries ${QUERIES} --json
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "eval failed (${rc}): ${err}")
endif()
message("${QUERIES}: ${out}")
foreach(key top1 answered_accuracy oos_recall)
  if(DEFINED MIN_${key})
    string(JSON value GET "${out}" ${key})
    if(value LESS MIN_${key})
      message(FATAL_ERROR "${key} = ${value} is below the floor ${MIN_${key}}")
    endif()
  endif()
endforeach()
