# Quality gate: runs `supportbot eval --json` on a labelled data set with default settings and fails
# when a figure falls below its floor. Skipped (exit 77) when ../shared/data is not beside the
# project. Arguments: CLI, DATA (folder with faqs.json and dev.jsonl), and MIN_<key> floors.
if(NOT EXISTS "${DATA}/faqs.json" OR NOT EXISTS "${DATA}/dev.jsonl")
  message("data set ${DATA} not found: skipped")
  cmake_language(EXIT 77)
endif()
execute_process(COMMAND ${CLI} eval --faqs ${DATA}/faqs.json --queries ${DATA}/dev.jsonl --json
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "eval failed (${rc}): ${err}")
endif()
message("${DATA}: ${out}")
foreach(key top1 answered_accuracy oos_recall)
  if(DEFINED MIN_${key})
    string(JSON value GET "${out}" ${key})
    if(value LESS MIN_${key})
      message(FATAL_ERROR "${key} = ${value} is below the floor ${MIN_${key}}")
    endif()
  endif()
endforeach()
