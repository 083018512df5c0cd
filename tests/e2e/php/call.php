<?php
// Posts one App.Sip_* request exactly as the API documentation's PHP examples do:
// an array of fields given to CURLOPT_POSTFIELDS (so curl sends multipart/form-data).
// Usage: php call.php URL '{"service": "...", ...}'
$apiUrl = $argv[1];
$postFields = json_decode($argv[2], true);
$curl = curl_init();
curl_setopt($curl, CURLOPT_URL, $apiUrl);
curl_setopt($curl, CURLOPT_POST, 1);
curl_setopt($curl, CURLOPT_POSTFIELDS, $postFields);
curl_setopt($curl, CURLOPT_RETURNTRANSFER, 1);
$response = curl_exec($curl);
$curlError = curl_error($curl);
curl_close($curl);
if ($curlError !== '') {
    fwrite(STDERR, $curlError);
    exit(1);
}
echo $response;
