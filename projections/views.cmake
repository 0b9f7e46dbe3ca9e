# The per-shipment views (status, ETA, freight cost): pure folds over waybill::Event.
# Depends on schemas/ only: never on ingest/ or ledger/.
add_library(waybill_projections_views
  ${CMAKE_CURRENT_LIST_DIR}/views.cc
  ${CMAKE_CURRENT_LIST_DIR}/view_header.cc
  ${CMAKE_CURRENT_LIST_DIR}/view_json.cc
  ${CMAKE_CURRENT_LIST_DIR}/exception_codes.cc
  ${CMAKE_CURRENT_LIST_DIR}/status_view.cc
  ${CMAKE_CURRENT_LIST_DIR}/eta_view.cc
  ${CMAKE_CURRENT_LIST_DIR}/freight_cost_view.cc
)
target_include_directories(waybill_projections_views PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(waybill_projections_views PUBLIC waybill_schemas)

if(BUILD_TESTING)
  waybill_test(projections_views_test
    SOURCES
      ${CMAKE_CURRENT_LIST_DIR}/status_view_test.cc
      ${CMAKE_CURRENT_LIST_DIR}/eta_view_test.cc
      ${CMAKE_CURRENT_LIST_DIR}/freight_cost_view_test.cc
      ${CMAKE_CURRENT_LIST_DIR}/views_property_test.cc
    LIBS waybill_projections_views)
endif()
