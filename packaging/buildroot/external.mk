include $(sort $(wildcard $(BR2_EXTERNAL_UPDATER_PATH)/package/*/*.mk))
