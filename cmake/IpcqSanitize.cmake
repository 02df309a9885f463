# IPCQ_SANITIZE=address,undefined  or  IPCQ_SANITIZE=thread
set(IPCQ_SANITIZE "" CACHE STRING "Sanitizers to build with (-fsanitize=...)")
if(IPCQ_SANITIZE)
  add_compile_options(-fsanitize=${IPCQ_SANITIZE} -fno-omit-frame-pointer
                      -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${IPCQ_SANITIZE})
endif()
