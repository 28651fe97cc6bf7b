/* For scripts/check-ports only: what ESP-IDF's Kconfig adds to sdkconfig.h once this example's
 * sdkconfig.defaults turn Bluetooth on - the defaults of components/bt/controller/esp32c3/
 * Kconfig.in and components/bt/Kconfig (ESP-IDF v5.3.1) that esp_bt.h reads. A real build
 * computes them itself. */
#define CONFIG_BT_CTRL_MODE_EFF                       1
#define CONFIG_BT_CTRL_BLE_MAX_ACT                    6
#define CONFIG_BT_CTRL_BLE_MAX_ACT_EFF                6
#define CONFIG_BT_CTRL_BLE_STATIC_ACL_TX_BUF_NB       0
#define CONFIG_BT_CTRL_PINNED_TO_CORE                 0
#define CONFIG_BT_CTRL_HCI_TL_EFF                     1
#define CONFIG_BT_CTRL_CE_LENGTH_TYPE_EFF             0
#define CONFIG_BT_CTRL_TX_ANTENNA_INDEX_EFF           0
#define CONFIG_BT_CTRL_RX_ANTENNA_INDEX_EFF           0
#define CONFIG_BT_CTRL_DFT_TX_POWER_LEVEL_EFF         11
#define CONFIG_BT_CTRL_BLE_SCAN_DUPL                  1
#define CONFIG_BT_CTRL_SCAN_DUPL_TYPE                 0
#define CONFIG_BT_CTRL_SCAN_DUPL_CACHE_SIZE           100
#define CONFIG_BT_CTRL_DUPL_SCAN_CACHE_REFRESH_PERIOD 0
#define CONFIG_BT_CTRL_HW_CCA_EFF                     0
#define CONFIG_BT_CTRL_HW_CCA_VAL                     20
#define CONFIG_BT_CTRL_CHAN_ASS_EN                    1
#define CONFIG_BT_CTRL_LE_PING_EN                     1
#define CONFIG_BT_CTRL_SLEEP_MODE_EFF                 0
#define CONFIG_BT_CTRL_SLEEP_CLOCK_EFF                0
#define CONFIG_BT_CTRL_COEX_PHY_CODED_TX_RX_TLIM_EFF  0
#define CONFIG_BT_CTRL_ADV_DUP_FILT_MAX               30
#define CONFIG_BT_BLE_CCA_MODE                        0
